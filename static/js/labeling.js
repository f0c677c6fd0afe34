/* The labeling page: keyboard shortcuts, drafts, time on task, ranking, text diff.
 * The server renders everything; this only adds behaviour to what is there and
 * runs again after each HTMX swap of #workspace. Task text is never put into
 * innerHTML here (only textContent), so it stays inert. */
(function () {
  "use strict";

  var state = { active: 0, started: 0, elapsed: 0, visibleSince: null, timer: null };

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function ws() { return document.getElementById("workspace"); }
  // The labeling form, or the review page's resolution form (same widgets, same keys).
  function form() { return document.getElementById("label-form") || document.getElementById("resolve-form"); }
  function questions() {
    var f = form();
    return f ? Array.prototype.slice.call(f.querySelectorAll("fieldset.question")) : [];
  }

  function draftKey() {
    var w = ws();
    if (!w || !w.dataset.task) return null;
    return "quorum:draft:" + w.dataset.user + ":" + w.dataset.task + (w.dataset.revise ? ":revise" : "");
  }

  // --- time on task: counts only while the page is visible ---------------
  function elapsed() {
    var run = state.visibleSince === null ? 0 : (performance.now() - state.visibleSince) / 1000;
    return state.elapsed + run;
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      state.elapsed = elapsed();
      state.visibleSince = null;
    } else {
      state.visibleSince = performance.now();
    }
  });
  function stampTime() {
    var f = form();
    if (f && f.elements.lead_time_s) f.elements.lead_time_s.value = elapsed().toFixed(1);
  }

  // --- drafts --------------------------------------------------------------
  // Kept in the browser at once and on the server a moment later, so a draft
  // survives a reload here and continues in another browser or machine.
  var serverSave = null;
  function formFields(f) {
    var fields = {};
    Array.prototype.forEach.call(f.elements, function (el) {
      if (!el.name || el.name === "csrfmiddlewaretoken") return;
      if (el.type === "radio" || el.type === "checkbox") {
        if (!fields[el.name]) fields[el.name] = [];
        if (el.checked) fields[el.name].push(el.value);
      } else {
        fields[el.name] = el.value;
      }
    });
    return fields;
  }
  // The browser's copy of the form; returns what it saved (null without a task).
  function saveLocalDraft() {
    var key = draftKey(), f = form();
    if (!key || !f) return null;
    stampTime();
    var fields = formFields(f);
    fields.__elapsed = elapsed();
    fields.__saved_at = Date.now();
    try { localStorage.setItem(key, JSON.stringify(fields)); } catch (e) { /* storage full: drafts are a convenience */ }
    return fields;
  }
  // The browser's copy at once, the server's once the annotator pauses.
  function saveDraft() {
    var fields = saveLocalDraft(), f = form();
    if (!fields) return;
    var w = ws(), url = w && !w.dataset.revise ? w.dataset.draftUrl : null;
    if (!url || !f.elements.csrfmiddlewaretoken) return;
    clearTimeout(serverSave);
    serverSave = setTimeout(function () {
      fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": f.elements.csrfmiddlewaretoken.value },
        body: JSON.stringify({ fields: fields }),
        credentials: "same-origin",
      }).catch(function () { /* offline: the browser copy stays */ });
    }, 1500);
  }

  function serverDraft() {
    var el = document.getElementById("server-draft");
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }
  function restoreDraft() {
    var key = draftKey(), f = form();
    if (!key || !f) return;
    var local = null, raw = localStorage.getItem(key);
    if (raw) { try { local = JSON.parse(raw); } catch (e) { local = null; } }
    var server = serverDraft(), fields = local, where = "in this browser";
    var serverAt = server ? Date.parse(server.saved_at) : 0;
    if (server && (!local || (local.__saved_at || 0) < serverAt)) {
      fields = server.fields;
      where = "from " + new Date(serverAt).toLocaleString() + ", saved on the server";
    }
    if (!fields) return;
    var before = answerFields(f);
    Array.prototype.forEach.call(f.elements, function (el) {
      if (!el.name || !(el.name in fields) || el.name === "csrfmiddlewaretoken") return;
      var v = fields[el.name];
      if (el.type === "radio" || el.type === "checkbox") el.checked = Array.isArray(v) && v.indexOf(el.value) >= 0;
      else if (typeof v === "string" && (el.name !== "client_id" || v)) el.value = v;
    });
    if (typeof fields.__elapsed === "number") state.elapsed = fields.__elapsed;
    f.querySelectorAll("ol.ranking").forEach(applyRankingOrder);
    // The page saves a draft as soon as it opens (for the client id): only a
    // draft that changed an answer is worth a notice.
    if (answerFields(f) === before) return;
    var note = document.querySelector(".draft-notice");
    if (note) { note.textContent = "Restored your draft " + where + "."; note.hidden = false; }
  }
  function answerFields(f) {
    var fields = formFields(f);
    delete fields.client_id;
    delete fields.lead_time_s;
    return JSON.stringify(fields);
  }

  // --- ranking ------------------------------------------------------------
  function rankingInput(list) { return list.parentNode.querySelector("input.ranking-order"); }
  function syncRanking(list) {
    rankingInput(list).value = Array.prototype.map.call(list.children, function (li) { return li.dataset.index; }).join(",");
    var status = list.parentNode.querySelector(".ranking-status");
    if (status) status.querySelectorAll("[data-unranked], [data-action=keep-order]").forEach(function (el) { el.hidden = true; });
    saveDraft();
  }
  function applyRankingOrder(list) {
    var order = rankingInput(list).value.split(",");
    if (order[0] !== "") {
      var status = list.parentNode.querySelector(".ranking-status");
      if (status) status.querySelectorAll("[data-unranked], [data-action=keep-order]").forEach(function (el) { el.hidden = true; });
    }
    order.forEach(function (idx) {
      var li = list.querySelector('li[data-index="' + idx + '"]');
      if (li) list.appendChild(li);
    });
  }
  function setupRanking(list) {
    var dragged = null;
    list.addEventListener("dragstart", function (e) { dragged = e.target.closest("li"); e.dataTransfer.effectAllowed = "move"; });
    list.addEventListener("dragover", function (e) {
      e.preventDefault();
      var over = e.target.closest("li");
      if (!dragged || !over || over === dragged) return;
      var rect = over.getBoundingClientRect();
      list.insertBefore(dragged, e.clientY > rect.top + rect.height / 2 ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (e) { e.preventDefault(); syncRanking(list); dragged = null; });
    list.addEventListener("keydown", function (e) {
      var li = e.target.closest("li");
      if (!li || !e.shiftKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
      e.preventDefault();
      if (e.key === "ArrowUp" && li.previousElementSibling) list.insertBefore(li, li.previousElementSibling);
      if (e.key === "ArrowDown" && li.nextElementSibling) list.insertBefore(li.nextElementSibling, li);
      li.focus();
      syncRanking(list);
    });
  }

  // --- text diff against the prefilled original (word level) ---------------
  function diffWords(a, b) {
    var x = a.split(/(\s+)/), y = b.split(/(\s+)/);
    if (x.length * y.length > 4e6) return null; // too long to diff on each keystroke
    var n = x.length, m = y.length, dp = [];
    for (var i = 0; i <= n; i++) { dp.push(new Uint32Array(m + 1)); }
    for (i = n - 1; i >= 0; i--) for (var j = m - 1; j >= 0; j--)
      dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    var out = [];
    i = 0; j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[i] === y[j]) { out.push(["=", x[i]]); i++; j++; }
      else if (j < m && (i === n || dp[i][j + 1] >= dp[i + 1][j])) { out.push(["+", y[j]]); j++; }
      else { out.push(["-", x[i]]); i++; }
    }
    return out;
  }
  function renderDiff(fieldset) {
    var tpl = fieldset.querySelector("template.original"), box = fieldset.querySelector(".diff");
    if (!tpl || !box || box.closest("details").hidden) return;
    var original = tpl.content.textContent, current = fieldset.querySelector("textarea").value;
    box.textContent = "";
    if (original === current) { box.textContent = "No changes."; box.classList.add("muted"); return; }
    box.classList.remove("muted");
    var parts = diffWords(original, current);
    if (!parts) { box.textContent = "Changed (too long to show the differences)."; return; }
    parts.forEach(function (p) {
      var el = document.createElement(p[0] === "+" ? "ins" : p[0] === "-" ? "del" : "span");
      el.textContent = p[1];
      box.appendChild(el);
    });
  }

  // --- correcting an earlier assistant turn ----------------------------------
  // The text question of a conversation answers with the next assistant turn,
  // or with a corrected version of one the annotator picks (hidden turn input).
  function turnFieldset() {
    var input = document.querySelector("form input.turn-input");
    return input ? input.closest("fieldset") : null;
  }
  function assistantTurns() {
    return Array.prototype.slice.call(document.querySelectorAll(".conversation li.turn-assistant"));
  }
  function showTurn(fs) {
    var input = fs.querySelector("input.turn-input"), turn = input.value;
    var li = turn === "" ? null : document.querySelector('.conversation li[data-turn="' + turn + '"]');
    assistantTurns().forEach(function (x) { x.classList.toggle("correcting", x === li); });
    fs.querySelector(".turn-status").textContent = li
      ? "Correcting assistant turn " + (Number(turn) + 1) + "."
      : "Write the next assistant turn, or correct an earlier one (e).";
    fs.querySelector('[data-action="next-turn"]').hidden = !li;
    fs.querySelector(".diff-box").hidden = !li;
    fs.querySelector("template.original").content.textContent = li ? li.querySelector("template.turn-source").content.textContent : "";
    if (li) renderDiff(fs);
  }
  function correctTurn(li) {
    var fs = turnFieldset();
    if (!fs) return;
    var input = fs.querySelector("input.turn-input"), ta = fs.querySelector("textarea");
    var before = fs.querySelector("template.original").content.textContent;
    input.value = li ? li.dataset.turn : "";
    // Start from the turn's text unless the annotator already wrote their own.
    if (ta.value === "" || ta.value === before) ta.value = li ? li.querySelector("template.turn-source").content.textContent : "";
    showTurn(fs);
    setActive(questions().indexOf(fs));
    ta.focus();
    saveDraft();
  }
  // A long conversation opens at the turn being answered (its end), or at the
  // turn being corrected, not at its first message.
  function scrollConversation() {
    var list = document.querySelector(".conversation");
    if (!list) return;
    var fs = turnFieldset(), turn = fs ? fs.querySelector("input.turn-input").value : "";
    var li = turn === "" ? null : list.querySelector('li[data-turn="' + turn + '"]');
    if (!li) { list.scrollTop = list.scrollHeight; return; }
    list.scrollTop += li.getBoundingClientRect().top - list.getBoundingClientRect().top;
  }
  function correctPreviousTurn() {
    var fs = turnFieldset(), turns = assistantTurns();
    if (!fs || !turns.length) return;
    var current = fs.querySelector("input.turn-input").value;
    var at = turns.findIndex(function (li) { return li.dataset.turn === current; });
    // Last turn first, then earlier ones, then back to writing the next turn.
    correctTurn(current === "" ? turns[turns.length - 1] : at > 0 ? turns[at - 1] : null);
  }

  // --- keyboard -----------------------------------------------------------
  function setActive(i) {
    var qs = questions();
    if (!qs.length) return;
    state.active = Math.max(0, Math.min(qs.length - 1, i));
    qs.forEach(function (q, k) { q.classList.toggle("active", k === state.active); });
    qs[state.active].scrollIntoView({ block: "nearest" });
  }
  function check(input) {
    if (!input) return false;
    if (input.type === "checkbox") input.checked = !input.checked;
    else input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }
  // Each question declares its keys (projects/questions: QuestionType.keys):
  // data-digits names what 0-9 do, data-digit-field a suffix to the field they
  // act on, data-advance moves on after a digit, data-letters maps letter keys
  // to values, data-enter the element Enter focuses.
  function digit(q, d) {
    var how = q.dataset.digits, name = "q-" + q.dataset.name + (q.dataset.digitField || "");
    var done = false;
    if (how === "value") {
      done = check(q.querySelector('input[name="' + name + '"][value="' + d + '"]'));
    } else if (how === "nth") {
      var opts = q.querySelectorAll('input[name="' + name + '"]');
      done = d >= 1 && d <= opts.length && check(opts[d - 1]);
    } else if (how === "order") {
      // Digit n puts the n-th response shown (1-based, its letter) next in the order being built.
      var list = q.querySelector("ol.ranking"), li = list.querySelector('li[data-position="' + (d - 1) + '"]');
      if (!li) return;
      var placed = Number(list.dataset.placed || 0);
      if (placed >= list.children.length) placed = 0;
      list.insertBefore(li, list.children[placed]);
      list.dataset.placed = placed + 1;
      syncRanking(list);
    }
    if (done && q.dataset.advance) setActive(state.active + 1);
  }
  function letterValue(q, key) {
    var pairs = (q && q.dataset.letters ? q.dataset.letters.split(",") : []);
    for (var i = 0; i < pairs.length; i++) {
      var kv = pairs[i].split("=");
      if (kv[0] === key) return kv[1];
    }
    return null;
  }
  // A letter acts on the active question if it takes that letter, else on the first that does.
  function letter(key) {
    var qs = questions(), active = qs[state.active];
    var q = letterValue(active, key) !== null ? active : qs.filter(function (x) { return letterValue(x, key) !== null; })[0];
    if (!q) return false;
    check(q.querySelector('input[name="q-' + q.dataset.name + '"][value="' + letterValue(q, key) + '"]'));
    return true;
  }
  function openSkip() {
    var d = document.getElementById("skip-dialog");
    if (!d) return;
    d.showModal();
    d.querySelector("input[name=reason]").focus();
    if (d.dataset.ready) return;
    d.dataset.ready = "1";
    // A digit typed into the empty reason box picks that preset instead; Enter then
    // skips with it. Anything else is the annotator's own words.
    d.addEventListener("keydown", function (e) {
      var box = d.querySelector("input[name=reason]");
      var presets = d.querySelectorAll("input[name=preset]");
      var n = /^[1-9]$/.test(e.key) ? Number(e.key) : 0;
      if (n && presets[n - 1] && (e.target !== box || box.value === "")) {
        e.preventDefault();
        presets[n - 1].checked = true;
      } else if (e.key === "Enter" && e.target !== box) {
        e.preventDefault();
        d.querySelector("form").requestSubmit();
      }
    });
  }

  function toggleGuidelines() {
    var g = document.getElementById("guidelines");
    if (g) g.hidden = !g.hidden;
  }
  function submit() {
    var f = form();
    if (!f) return;
    stampTime();
    f.requestSubmit();
  }

  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); submit(); return; }
    var t = e.target, typing = t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && /^(text|search|number)$/.test(t.type)) || t.isContentEditable);
    if (typing) {
      if (e.key === "Escape" && t.tagName === "TEXTAREA") { t.blur(); }
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var qs = questions(), q = qs[state.active];
    if (/^[0-9]$/.test(e.key) && q) { e.preventDefault(); digit(q, Number(e.key)); return; }
    if (/^[a-zA-Z]$/.test(e.key) && letter(e.key.toLowerCase())) return;
    switch (e.key) {
      case "j": setActive(state.active + 1); break;
      case "k": setActive(state.active - 1); break;
      case "s": if (document.getElementById("skip-dialog")) { e.preventDefault(); openSkip(); } break;
      case "g": toggleGuidelines(); break;
      case "u": var undo = document.querySelector("[data-undo]"); if (undo) { e.preventDefault(); undo.click(); } break;
      case "n": var next = document.querySelector("a[data-next-task]"); if (next) { e.preventDefault(); next.click(); } break;
      case "e": if (turnFieldset()) { e.preventDefault(); correctPreviousTurn(); } break;
      case "?": if (document.getElementById("shortcuts")) document.getElementById("shortcuts").showModal(); break;
      case "Enter":
        // A focused button in the form keeps its own Enter (submit, skip).
        if (t.tagName === "BUTTON" && t.closest("#label-form")) return;
        var to = q && q.dataset.enter ? q.querySelector(q.dataset.enter) : null;
        if (to && !t.matches(q.dataset.enter)) {
          e.preventDefault();
          to.focus();
          if (to.setSelectionRange) to.setSelectionRange(to.value.length, to.value.length); // edit at the end, like a reply
        }
        break;
      default: return;
    }
  });

  // A closed dialog would hand focus back to the button that opened it, and
  // Enter would then open it again instead of acting on the task.
  document.addEventListener("close", function () {
    if (document.activeElement && document.activeElement.tagName === "BUTTON") document.activeElement.blur();
  }, true);

  document.addEventListener("click", function (e) {
    var a = e.target.closest("[data-action]");
    if (!a) return;
    var action = a.dataset.action;
    if (action === "guidelines") toggleGuidelines();
    else if (action === "shortcuts") document.getElementById("shortcuts").showModal();
    else if (action === "skip") openSkip();
    else if (action === "close-skip") document.getElementById("skip-dialog").close();
    else if (action === "correct-turn") correctTurn(a.closest("li.turn"));
    else if (action === "next-turn") correctTurn(null);
    else if (action === "keep-order") syncRanking(a.closest("fieldset").querySelector("ol.ranking"));
  });

  // --- set-up for each task -------------------------------------------------
  // Other forms built from the same widgets (the review page's resolution form).
  function initWidgets() {
    document.querySelectorAll("form.question-widgets:not([data-ready])").forEach(function (f) {
      f.dataset.ready = "1";
      f.querySelectorAll("ol.ranking").forEach(setupRanking);
      f.querySelectorAll("fieldset.question").forEach(renderDiff);
      f.addEventListener("input", function (e) {
        var fs = e.target.closest("fieldset.question");
        if (fs) renderDiff(fs);
      });
    });
  }

  function init() {
    initWidgets();
    scrollConversation();
    var w = ws();
    if (!w || w.dataset.ready) return;
    w.dataset.ready = "1";
    if (w.dataset.savedTask) {
      try { localStorage.removeItem("quorum:draft:" + w.dataset.user + ":" + w.dataset.savedTask); } catch (e) { /* ignore */ }
    }
    state.elapsed = 0;
    state.visibleSince = document.hidden ? null : performance.now();
    state.active = 0;
    var f = form();
    if (!f) return;
    if (f.elements.client_id) f.elements.client_id.value = uuid4();
    restoreDraft();
    var tfs = turnFieldset();
    if (tfs) {
      assistantTurns().forEach(function (li) { li.querySelector(".correct-turn").hidden = false; });
      showTurn(tfs);
      scrollConversation();
    }
    f.querySelectorAll("ol.ranking").forEach(setupRanking);
    f.querySelectorAll("fieldset.question").forEach(renderDiff);
    f.addEventListener("input", function (e) {
      var fs = e.target.closest("fieldset.question");
      if (fs) renderDiff(fs);
      saveDraft();
    });
    f.addEventListener("change", saveDraft);
    f.addEventListener("submit", function () {
      stampTime();
      clearTimeout(serverSave); // the answer itself is on its way
    });
    f.addEventListener("focusin", function (e) {
      var fs = e.target.closest("fieldset.question");
      if (fs) setActive(questions().indexOf(fs));
    });
    if (w.dataset.revise) {
      // A revision posts the whole page; the server re-renders it on errors.
      f.addEventListener("submit", function () { localStorage.removeItem(draftKey()); });
    } else {
      // Keeps this task's client id across a reload; nothing to send the server yet.
      saveLocalDraft();
    }
    setActive(0);
  }

  document.addEventListener("DOMContentLoaded", init);
  // htmx reads the form before later submit listeners run, so the time on
  // task is put into the request itself.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.elt && e.detail.elt.id === "label-form" && e.detail.parameters) {
      e.detail.parameters.lead_time_s = elapsed().toFixed(1);
    }
  });

  // After an HTMX swap the new #workspace has no ready mark yet.
  document.addEventListener("htmx:afterSettle", init);
  if (document.readyState !== "loading") init();
})();
