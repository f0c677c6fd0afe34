"""The question schema: validation of questions and of the answers to them.

A schema is an ordered list of questions, each ``{name, type, title, help,
required, ...}``. Every error names the question (by position and name) and
the field, so a lead can fix a schema without guessing.

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

QUESTION_TYPES = ("text", "rating", "label", "multilabel", "preference", "ranking")
LEVELS = {
    "text": "text",
    "rating": "ordinal",
    "label": "nominal",
    "multilabel": "nominal",
    "preference": "ordinal",
    "ranking": "ordinal",
}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PREFILL_RE = re.compile(r"^(instruction|input|reference|responses\.\d+|meta\.[A-Za-z0-9_]+)$")
PREFERENCE_CHOICES = ("A", "B", "tie")

COMMON_KEYS = {"name", "type", "title", "help", "required"}
TYPE_KEYS = {
    "text": {"prefill", "min_length", "max_length", "placeholder"},
    "rating": {"min", "max", "labels", "level", "target"},
    "label": {"options", "target"},
    "multilabel": {"options", "target", "min_selected", "max_selected"},
    "preference": {"strength"},
    "ranking": set(),
}


class SchemaError(ValidationError):
    """An invalid question schema; ``message_dict`` maps ``questions[i].field`` to errors."""


def _where(index: int, question: Any) -> str:
    name = question.get("name") if isinstance(question, dict) else None
    return f"questions[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_options(q: dict, err) -> None:
    options = q.get("options")
    if not isinstance(options, list) or len(options) < 2:
        err("options", "needs a list of at least two options")
        return
    if not all(isinstance(o, str) and o.strip() for o in options):
        err("options", "every option must be a non-empty string")
    elif len(set(options)) != len(options):
        dupes = sorted({o for o in options if options.count(o) > 1})
        err("options", f"options must be distinct; repeated: {', '.join(dupes)}")


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
    unknown = set(q) - COMMON_KEYS - TYPE_KEYS[qtype]
    if unknown:
        err(sorted(unknown)[0], f"is not a field of a {qtype} question")
    for key in ("title", "help"):
        if key in q and not isinstance(q[key], str):
            err(key, "must be a string")
    if "required" in q and not isinstance(q["required"], bool):
        err("required", "must be true or false")

    if qtype == "text":
        prefill = q.get("prefill")
        if prefill is not None and (not isinstance(prefill, str) or not PREFILL_RE.match(prefill)):
            err(
                "prefill",
                "must name a task field: instruction, input, reference, responses.N or meta.KEY",
            )
        for key in ("min_length", "max_length"):
            if key in q and (not _is_int(q[key]) or q[key] < 0):
                err(key, "must be a non-negative integer")
    elif qtype == "rating":
        lo, hi = q.get("min"), q.get("max")
        if not _is_int(lo):
            err("min", "must be an integer")
        if not _is_int(hi):
            err("max", "must be an integer")
        if _is_int(lo) and _is_int(hi):
            if hi <= lo:
                err("max", f"must be greater than min ({lo})")
            elif hi - lo > 100:
                err("max", "allows at most 101 points on a scale")
        labels = q.get("labels")
        if labels is not None:
            if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
                err("labels", "must map scale points to label strings")
            elif _is_int(lo) and _is_int(hi):
                for key in labels:
                    if not (str(key).lstrip("-").isdigit() and lo <= int(key) <= hi):
                        err("labels", f"has {key!r}, which is not a point of the scale {lo}..{hi}")
                        break
        if q.get("level", "ordinal") not in ("ordinal", "interval"):
            err("level", "must be ordinal or interval")
    elif qtype in ("label", "multilabel"):
        _check_options(q, err)
        if qtype == "multilabel":
            for key in ("min_selected", "max_selected"):
                if key in q and (not _is_int(q[key]) or q[key] < 0):
                    err(key, "must be a non-negative integer")
    elif qtype == "preference" and "strength" in q and not isinstance(q["strength"], bool):
        err("strength", "must be true or false")
    if qtype in ("rating", "label", "multilabel") and "target" in q:
        target = q["target"]
        if not isinstance(target, str) or not re.match(r"^responses\.\d+$", target):
            err("target", "must be responses.N (the response this question judges)")
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
    if question["type"] == "rating":
        return question.get("level", "ordinal")
    return LEVELS[question["type"]]


def preference_score(value: Any) -> int:
    """Place a preference answer on the ordinal scale -3..3 (A strongly .. B strongly)."""
    if isinstance(value, dict):
        choice, strength = value.get("choice"), value.get("strength") or 1
    else:
        choice, strength = value, 1
    if choice == "tie":
        return 0
    return -strength if choice == "A" else strength


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


def answer_text(value: Any) -> str | None:
    """The text of a text answer: a string, or ``{"text", "turn"}`` for a corrected turn."""
    if isinstance(value, dict):
        value = value.get("text")
    return value if isinstance(value, str) else None


def answer_display(value: Any) -> str:
    """One answer as a short line of text for pages that list answers."""
    if value is None:
        return "—"
    if isinstance(value, dict) and "turn" in value:
        return f"(corrects turn {value['turn'] + 1}) {value.get('text', '')}"
    if isinstance(value, dict):
        return f"{value.get('choice')} ({value.get('strength')})"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def _text_answer(value: Any, assistant_turns: frozenset[int]) -> Any:
    if not isinstance(value, dict):
        if not isinstance(value, str):
            raise ValueError('must be a string, or {"text": …, "turn": n} to correct a turn')
        return value
    text, turn = value.get("text"), value.get("turn")
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    if turn is None:
        return text
    if not _is_int(turn) or turn not in assistant_turns:
        turns = ", ".join(str(t) for t in sorted(assistant_turns)) or "none in this task"
        raise ValueError(f"turn must be the index of an assistant turn ({turns})")
    return {"text": text, "turn": turn}


def validate_answer(
    question: dict,
    value: Any,
    *,
    n_responses: int = 0,
    assistant_turns: frozenset[int] = frozenset(),
) -> Any:
    """Return the normalised answer to one question, or raise ValueError saying why."""
    qtype = question["type"]
    if qtype == "text":
        answer = _text_answer(value, assistant_turns)
        value = answer_text(answer)
        if len(value) < question.get("min_length", 0):
            raise ValueError(f"must be at least {question['min_length']} characters")
        if "max_length" in question and len(value) > question["max_length"]:
            raise ValueError(f"must be at most {question['max_length']} characters")
        return answer
    if qtype == "rating":
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        lo, hi = question["min"], question["max"]
        if not _is_int(value) or not lo <= value <= hi:
            raise ValueError(f"must be an integer from {lo} to {hi}")
        return value
    if qtype == "label":
        if value not in question["options"]:
            raise ValueError(f"must be one of {', '.join(question['options'])}")
        return value
    if qtype == "multilabel":
        options = question["options"]
        if not isinstance(value, list) or any(v not in options for v in value):
            raise ValueError(f"must be a list of options from {', '.join(options)}")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat an option")
        if len(value) < question.get("min_selected", 0):
            raise ValueError(f"needs at least {question['min_selected']} options")
        if "max_selected" in question and len(value) > question["max_selected"]:
            raise ValueError(f"allows at most {question['max_selected']} options")
        return [o for o in options if o in value]
    if qtype == "preference":
        if question.get("strength"):
            if isinstance(value, str):
                value = {"choice": value, "strength": 1}
            if not isinstance(value, dict) or value.get("choice") not in PREFERENCE_CHOICES:
                raise ValueError('must be {"choice": "A"|"B"|"tie", "strength": 1..3}')
            if value["choice"] == "tie":
                return {"choice": "tie", "strength": 0}
            strength = value.get("strength", 1)
            if not _is_int(strength) or not 1 <= strength <= 3:
                raise ValueError("strength must be 1, 2 or 3")
            return {"choice": value["choice"], "strength": strength}
        if isinstance(value, dict):
            value = value.get("choice")
        if value not in PREFERENCE_CHOICES:
            raise ValueError("must be A, B or tie")
        return value
    if qtype == "ranking":
        if not isinstance(value, list) or not all(_is_int(v) for v in value):
            raise ValueError("must be a list of response indices, best first")
        if sorted(value) != list(range(n_responses)):
            raise ValueError(f"must order every one of the {n_responses} responses exactly once")
        return value
    raise ValueError(f"unknown question type {qtype}")


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
        value = values.get(name)
        if q["type"] == "text" and isinstance(value, dict) and answer_text(value) == "":
            value = ""
        if value is None or value == "" or value == []:
            if q.get("required", True) and not partial and q["type"] != "multilabel":
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
