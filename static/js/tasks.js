// Task browser: select every row at once, and ask before removing tasks.
document.addEventListener("click", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (all) {
    const form = all.closest("form");
    form.querySelectorAll("input[name=task]").forEach((box) => { box.checked = all.checked; });
  }
  const risky = event.target.closest("[data-confirm]");
  if (risky && !window.confirm(risky.dataset.confirm)) event.preventDefault();
});
