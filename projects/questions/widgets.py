"""Between an HTML form of question widgets and an answer ``{question: value}``.

Used by the labeling page, the revise page, the review page's resolution form
and the lead's live preview, so every one draws and reads a question the same
way. Field names are ``q-<question name>`` (plus ``-strength``, ``-turn`` where
a type needs them).
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from . import question_type
from .base import as_text, letter
from .order import shown_position


def task_view(data: Any, order: list[int] | None = None) -> dict:
    """What the page shows of a task, every text a string (Markdown rendered later).

    ``order`` (canonical indices, first shown first) is the order the responses
    are shown and lettered in; each keeps its canonical ``index``.
    """
    data = data if isinstance(data, dict) else {"instruction": as_text(data)}
    responses = data.get("responses")
    responses = responses if isinstance(responses, list) else []
    stored = list(range(len(responses)))
    shown = order if order is not None and sorted(order) == stored else stored
    messages = []
    raw_messages = data.get("messages")
    for message in raw_messages if isinstance(raw_messages, list) else []:
        if isinstance(message, dict):
            role = as_text(message.get("role") or message.get("from") or "user")
            content = message.get("content", message.get("value"))
            messages.append({"role": role, "content": as_text(content)})
        else:
            messages.append({"role": "user", "content": as_text(message)})
    return {
        "instruction": as_text(data.get("instruction")),
        "input": as_text(data.get("input")),
        "messages": messages,
        "responses": [
            {"index": i, "position": p, "letter": letter(p), "text": as_text(responses[i])}
            for p, i in enumerate(shown)
        ],
        "n_responses": len(responses),
        "order": shown,
    }


def question_widgets(
    questions: list[dict],
    data: Any,
    *,
    values: dict | None = None,
    errors: dict | None = None,
    order: list[int] | None = None,
) -> list[dict]:
    """Everything a template needs to draw each question: ``w.template`` with its context.

    ``values`` are canonical; ``order`` is the order the responses are shown in.
    """
    values = values or {}
    errors = errors or {}
    view = task_view(data, order)
    widgets = []
    for position, q in enumerate(questions):
        qt = question_type(q)
        name = q["name"]
        value = values.get(name)
        target = q.get("target")
        widgets.append(
            {
                "q": q,
                "name": name,
                "field": f"q-{name}",
                "type": q["type"],
                "template": qt.template,
                "keys": qt.keys(q),
                "position": position,
                "title": q.get("title") or name,
                "help": q.get("help", ""),
                "required": q.get("required", True),
                "error": (errors.get(f"values.{name}") or [None])[0],
                "target": letter(shown_position(view["order"], int(target.split(".")[1])))
                if isinstance(target, str) and target.startswith("responses.")
                else None,
                **qt.widget(q, value, data=data, view=view),
            }
        )
    return widgets


def values_from_post(
    questions: list[dict], post: QueryDict, order: list[int] | None = None
) -> dict:
    """The answer as the schema expects it; bad input is passed on for validation to name.

    A form drawn with the responses in ``order`` is read back in the canonical order.
    """
    values: dict[str, Any] = {}
    for q in questions:
        qt = question_type(q)
        value = qt.from_post(q, post, f"q-{q['name']}")
        if value is not None:
            values[q["name"]] = qt.canonical(q, value, order)
    return values
