// Copy buttons: <button data-copy="#id"> copies the text of the element it names.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  const status = button.parentElement.querySelector(".copy-status");
  try {
    await navigator.clipboard.writeText(source.textContent);
    if (status) status.textContent = "Copied.";
  } catch {
    // No clipboard (plain http, or denied): select the text so Ctrl+C works.
    window.getSelection().selectAllChildren(source);
    if (status) status.textContent = "Selected: press Ctrl+C to copy.";
  }
});
