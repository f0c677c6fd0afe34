// Appends an example question of the chosen type to the JSON list.
(function () {
  const examples = {
    preference: {name: "better", type: "preference", title: "Which response is better?", strength: false},
    rating: {name: "helpfulness", type: "rating", title: "How helpful is response A?", min: 1, max: 5, target: "responses.0", labels: {"1": "Useless", "5": "Excellent"}},
    label: {name: "category", type: "label", title: "Category", options: ["writing", "coding", "other"]},
    multilabel: {name: "issues", type: "multilabel", title: "Problems", options: ["factual error", "unsafe", "off-topic"], required: false},
    text: {name: "corrected", type: "text", title: "Correct the response", prefill: "responses.0"},
    ranking: {name: "ranking", type: "ranking", title: "Rank the responses, best first"},
  };
  const area = document.getElementById("id_questions_json");
  document.querySelectorAll("[data-insert]").forEach((button) => {
    button.addEventListener("click", () => {
      let list;
      try { list = JSON.parse(area.value || "[]"); } catch (e) { alert("Fix the JSON first: " + e.message); return; }
      const q = {...examples[button.dataset.insert]};
      const names = new Set(list.map((x) => x.name));
      let n = 2; const base = q.name;
      while (names.has(q.name)) { q.name = base + "_" + n++; }
      list.push(q);
      area.value = JSON.stringify(list, null, 2);
      area.dispatchEvent(new Event("input", {bubbles: true}));
    });
  });
})();
