"""Between the labeling page's HTML form and an answer ``{question: value}``.

Field names are ``q-<question name>`` (plus ``q-<name>-strength`` for a
preference with strength); a ranking posts its order as ``"2,0,1"``.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict

from projects.schema import answer_text

PREFERENCE_STRENGTHS = [(1, "slightly"), (2, "clearly"), (3, "much")]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def letter(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else str(index + 1)


def task_field(data: dict, path: str | None) -> str | None:
    """The task text a question points at (``responses.1``, ``meta.source``, ...)."""
    if not path or not isinstance(data, dict):
        return None
    head, _, rest = path.partition(".")
    value = data.get(head)
    if rest:
        if isinstance(value, list) and rest.isdigit():
            value = value[int(rest)] if int(rest) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(rest)
        else:
            value = None
    return None if value is None else _text(value)


def task_view(data: Any) -> dict:
    """What the page shows of a task, every text a string (Markdown rendered later)."""
    data = data if isinstance(data, dict) else {"instruction": _text(data)}
    responses = data.get("responses")
    responses = responses if isinstance(responses, list) else []
    messages = []
    raw_messages = data.get("messages")
    for message in raw_messages if isinstance(raw_messages, list) else []:
        if isinstance(message, dict):
            role = _text(message.get("role") or message.get("from") or "user")
            content = message.get("content", message.get("value"))
            messages.append({"role": role, "content": _text(content)})
        else:
            messages.append({"role": "user", "content": _text(message)})
    return {
        "instruction": _text(data.get("instruction")),
        "input": _text(data.get("input")),
        "messages": messages,
        "responses": [
            {"index": i, "letter": letter(i), "text": _text(r)} for i, r in enumerate(responses)
        ],
        "n_responses": len(responses),
    }


def question_widgets(
    questions: list[dict], data: Any, *, values: dict | None = None, errors: dict | None = None
) -> list[dict]:
    """Everything a template needs to draw each question's widget."""
    values = values or {}
    errors = errors or {}
    view = task_view(data)
    is_conversation = bool(view["messages"])
    widgets = []
    for position, q in enumerate(questions):
        name = q["name"]
        value = values.get(name)
        w: dict[str, Any] = {
            "q": q,
            "name": name,
            "field": f"q-{name}",
            "type": q["type"],
            "position": position,
            "title": q.get("title") or name,
            "help": q.get("help", ""),
            "required": q.get("required", True),
            "error": (errors.get(f"values.{name}") or [None])[0],
            "target": None,
        }
        target = q.get("target")
        if target and target.startswith("responses."):
            w["target"] = letter(int(target.split(".")[1]))
        if q["type"] == "text":
            original = task_field(data, q.get("prefill"))
            turn = value.get("turn") if isinstance(value, dict) else None
            if turn is not None and 0 <= turn < len(view["messages"]):
                original = view["messages"][turn]["content"]
            w["original"] = original
            w["turn"] = turn
            w["value"] = (answer_text(value) or "") if value is not None else (original or "")
            # Without a prefill the answer is the next assistant turn, or a
            # correction of an earlier one that the annotator picks.
            w["next_turn"] = is_conversation and not q.get("prefill")
        elif q["type"] == "rating":
            labels = {str(k): v for k, v in (q.get("labels") or {}).items()}
            w["points"] = [
                {"value": p, "label": labels.get(str(p), ""), "checked": value == p}
                for p in range(q["min"], q["max"] + 1)
            ]
        elif q["type"] in ("label", "multilabel"):
            chosen = value if isinstance(value, list) else [value]
            w["options"] = [
                {"value": o, "key": i + 1 if i < 9 else None, "checked": o in chosen}
                for i, o in enumerate(q["options"])
            ]
        elif q["type"] == "preference":
            choice = value.get("choice") if isinstance(value, dict) else value
            strength = value.get("strength") if isinstance(value, dict) else None
            w["choices"] = [
                {"value": c, "label": label, "key": key, "checked": choice == c}
                for c, label, key in (
                    ("A", "A is better", "A"),
                    ("B", "B is better", "B"),
                    ("tie", "Tie", "T"),
                )
            ]
            w["strengths"] = [
                {"value": s, "label": label, "checked": (strength or 1) == s}
                for s, label in PREFERENCE_STRENGTHS
            ]
        elif q["type"] == "ranking":
            order = value if isinstance(value, list) else list(range(view["n_responses"]))
            by_index = {r["index"]: r for r in view["responses"]}
            w["items"] = [by_index[i] for i in order if i in by_index]
            w["order"] = ",".join(str(i) for i in order)
        widgets.append(w)
    return widgets


def values_from_post(questions: list[dict], post: QueryDict) -> dict:
    """The answer as the schema expects it; bad input is passed on for validation to name."""
    values: dict[str, Any] = {}
    for q in questions:
        field = f"q-{q['name']}"
        if q["type"] == "multilabel":
            values[q["name"]] = post.getlist(field)
            continue
        raw = post.get(field)
        if raw is None:
            continue
        if q["type"] == "rating":
            values[q["name"]] = int(raw) if raw.lstrip("-").isdigit() else raw
        elif q["type"] == "preference" and q.get("strength") and raw in ("A", "B", "tie"):
            strength = post.get(f"{field}-strength", "1")
            values[q["name"]] = {
                "choice": raw,
                "strength": int(strength) if strength.isdigit() else strength,
            }
        elif q["type"] == "ranking":
            parts = [p for p in raw.split(",") if p != ""]
            values[q["name"]] = [int(p) if p.isdigit() else p for p in parts]
        elif q["type"] == "text" and post.get(f"{field}-turn", "").isdigit():
            values[q["name"]] = {"text": raw, "turn": int(post[f"{field}-turn"])}
        else:
            values[q["name"]] = raw
    return values
