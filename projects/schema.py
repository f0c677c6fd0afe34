"""The question schema: validation of questions and of the answers to them.

A schema is an ordered list of questions, each ``{name, type, title, help,
required, ...}``. Every error names the question (by position and name) and
the field, so a lead can fix a schema without guessing.

This module is the entry point callers use; each type's own rules live in
``projects/questions/`` (one module per type, see docs/questions.md).

Answer shapes (what ``Annotation.values[name]`` holds):

=============  =====================================================================
type           answer
=============  =====================================================================
text           a string
rating         an integer in ``min..max``
label          one of ``options``
multilabel     a list of distinct ``options`` (order does not matter; stored sorted
               in the order of ``options``)
preference     ``"A"``, ``"B"`` or ``"tie"``; with ``strength: true`` an object
               ``{"choice": "A", "strength": 1..3}`` (tie has strength 0)
ranking        a list of response indices (0-based), best first: a permutation of
               ``range(len(task.data.responses))``
=============  =====================================================================
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

from . import questions as question_types
from .questions.base import check_agree
from .questions.preference import PREFERENCE_CHOICES, preference_score
from .questions.text import PREFILL_RE, answer_text

QUESTION_TYPES = question_types.TYPES
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
COMMON_KEYS = {"name", "type", "title", "help", "required", "agree"}
# Kept for callers that read them; the types own these facts.
LEVELS = {name: t.default_level for name, t in question_types.REGISTRY.items()}
TYPE_KEYS = {name: set(t.fields) for name, t in question_types.REGISTRY.items()}

__all__ = [
    "PREFERENCE_CHOICES",
    "PREFILL_RE",
    "QUESTION_TYPES",
    "SchemaError",
    "answer_context",
    "answer_display",
    "answer_text",
    "preference_score",
    "question_level",
    "validate_answer",
    "validate_questions",
    "validate_values",
]


class SchemaError(ValidationError):
    """An invalid question schema; ``message_dict`` maps ``questions[i].field`` to errors."""


def _where(index: int, question: Any) -> str:
    name = question.get("name") if isinstance(question, dict) else None
    return f"questions[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")


def _check_question(index: int, q: Any, errors: dict[str, list[str]]) -> dict:
    where = _where(index, q)

    def err(field: str, message: str) -> None:
        errors.setdefault(f"questions[{index}].{field}", []).append(f"{where}: {field} {message}")

    if not isinstance(q, dict):
        errors.setdefault(f"questions[{index}]", []).append(f"{where}: must be an object")
        return {}
    name = q.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        err("name", "must be lowercase letters, digits and _ (starting with a letter)")
    qtype = q.get("type")
    if qtype not in QUESTION_TYPES:
        err("type", f"must be one of {', '.join(QUESTION_TYPES)}")
        return q
    kind = question_types.get(qtype)
    unknown = set(q) - COMMON_KEYS - kind.fields
    if unknown:
        err(sorted(unknown)[0], f"is not a field of a {qtype} question")
    for key in ("title", "help"):
        if key in q and not isinstance(q[key], str):
            err(key, "must be a string")
    if "required" in q and not isinstance(q["required"], bool):
        err("required", "must be true or false")
    check_agree(kind, q, err)
    kind.check(q, err)
    return q


def validate_questions(questions: Any) -> list[dict]:
    """Return the normalised schema, or raise SchemaError naming every problem."""
    if not isinstance(questions, list):
        raise SchemaError({"questions": ["questions must be a list of question objects"]})
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    normalised = []
    for index, q in enumerate(questions):
        q = _check_question(index, q, errors)
        name = q.get("name") if isinstance(q, dict) else None
        if isinstance(name, str):
            if name in seen:
                errors.setdefault(f"questions[{index}].name", []).append(
                    f"{_where(index, q)}: name is already used by questions[{seen[name]}]"
                )
            seen.setdefault(name, index)
        if isinstance(q, dict) and q:
            normalised.append(
                {**q, "title": q.get("title") or name, "required": q.get("required", True)}
            )
    if errors:
        raise SchemaError(errors)
    return normalised


def question_level(question: dict) -> str:
    """The level of measurement agreement is computed at."""
    return question_types.question_type(question).level(question)


def answer_context(data: Any) -> dict:
    """What answers to a task are checked against: its responses and assistant turns."""
    data = data if isinstance(data, dict) else {}
    responses = data.get("responses")
    messages = data.get("messages")
    return {
        "n_responses": len(responses) if isinstance(responses, list) else 0,
        "assistant_turns": frozenset(
            i
            for i, m in enumerate(messages if isinstance(messages, list) else [])
            if isinstance(m, dict) and m.get("role") == "assistant"
        ),
    }


def answer_display(value: Any, question: dict | None = None, task: Any = None) -> str:
    """One answer as a short line of text for pages that list answers.

    With its question, the type shows it (labels, letters, 1-based turns);
    without (a question since removed), a generic line.
    """
    if question is not None and question.get("type") in QUESTION_TYPES:
        return question_types.question_type(question).display(question, value, task)
    if value is None:
        return "—"
    if isinstance(value, dict) and "turn" in value:
        return f"(corrects turn {value['turn'] + 1}) {value.get('text', '')}"
    if isinstance(value, dict):
        return f"{value.get('choice')} ({value.get('strength')})"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def validate_answer(
    question: dict,
    value: Any,
    *,
    n_responses: int = 0,
    assistant_turns: frozenset[int] = frozenset(),
) -> Any:
    """Return the normalised answer to one question, or raise ValueError saying why."""
    qtype = question["type"]
    if qtype not in QUESTION_TYPES:
        raise ValueError(f"unknown question type {qtype}")
    return question_types.get(qtype).validate(
        question, value, n_responses=n_responses, assistant_turns=assistant_turns
    )


def validate_values(
    questions: list[dict],
    values: Any,
    *,
    n_responses: int = 0,
    assistant_turns: frozenset[int] = frozenset(),
    partial: bool = False,
) -> dict:
    """Validate a whole answer ``{question name: answer}``; raise ValidationError per field."""
    if not isinstance(values, dict):
        raise ValidationError({"values": ["must be an object keyed by question name"]})
    errors: dict[str, list[str]] = {}
    known = {q["name"] for q in questions}
    for name in values:
        if name not in known:
            errors[f"values.{name}"] = [f"{name} is not a question of this project"]
    clean: dict[str, Any] = {}
    for q in questions:
        name = q["name"]
        kind = question_types.question_type(q)
        value = kind.blank(values.get(name))
        if value is None or value == "" or value == []:
            if kind.required(q) and not partial:
                errors[f"values.{name}"] = [f"{name} is required"]
            elif value is not None:
                clean[name] = value
            continue
        try:
            clean[name] = validate_answer(
                q, value, n_responses=n_responses, assistant_turns=assistant_turns
            )
        except ValueError as exc:
            errors[f"values.{name}"] = [f"{name} {exc}"]
    if errors:
        raise ValidationError(errors)
    return clean
