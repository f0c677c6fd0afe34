"""``text``: free text, optionally prefilled from the task; or a corrected conversation turn."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from django.conf import settings

from web.input import is_int_text

from .base import QuestionType, is_int, task_field

PREFILL_RE = re.compile(
    r"^(instruction|input|reference|responses\.[0-9]{1,4}|meta\.[A-Za-z0-9_]+)\Z"
)
TOKEN_RE = re.compile(r"\w+", re.UNICODE)


def token_f1(a: str, b: str) -> float:
    """Token-overlap F1 (SQuAD style): bag-of-words precision and recall, lower-cased."""
    ta, tb = TOKEN_RE.findall((a or "").lower()), TOKEN_RE.findall((b or "").lower())
    if not ta and not tb:
        return 1.0
    common = sum((Counter(ta) & Counter(tb)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(ta), common / len(tb)
    return 2 * precision * recall / (precision + recall)


def answer_text(value: Any) -> str | None:
    """The text of a text answer: a string, or ``{"text", "turn"}`` for a corrected turn."""
    if isinstance(value, dict):
        value = value.get("text")
    return value if isinstance(value, str) else None


class Text(QuestionType):
    name = "text"
    encoding = "text"
    fields = frozenset({"prefill", "min_length", "max_length", "placeholder", "turns"})
    default_level = "text"
    yields = frozenset({"text"})
    default_agree = 0.8  # token F1

    def similarity(self, q, a, b):
        # Corrections of different conversation turns never agree.
        turn_a = a.get("turn") if isinstance(a, dict) else None
        turn_b = b.get("turn") if isinstance(b, dict) else None
        if turn_a != turn_b:
            return 0.0
        return token_f1(answer_text(a) or "", answer_text(b) or "")

    def check(self, q, err):
        prefill = q.get("prefill")
        if prefill is not None and (not isinstance(prefill, str) or not PREFILL_RE.match(prefill)):
            err(
                "prefill",
                "must name a task field: instruction, input, reference, responses.N or meta.KEY",
            )
        for key in ("min_length", "max_length"):
            if key in q and (not is_int(q[key]) or q[key] < 0):
                err(key, "must be a non-negative integer")
        if "turns" in q and not isinstance(q["turns"], bool):
            err("turns", "must be true or false")

    def validate(self, q, value, *, n_responses, assistant_turns):
        # A plain note ("turns": false) never corrects a conversation turn.
        answer = _text_answer(value, assistant_turns if self._turns(q) else frozenset())
        text = answer_text(answer)
        if settings.MAX_ANSWER_CHARS and len(text) > settings.MAX_ANSWER_CHARS:
            raise ValueError(
                f"must be at most {settings.MAX_ANSWER_CHARS:,} characters (MAX_ANSWER_CHARS)"
            )
        if len(text) < q.get("min_length", 0):
            raise ValueError(f"must be at least {q['min_length']} characters")
        if "max_length" in q and len(text) > q["max_length"]:
            raise ValueError(f"must be at most {q['max_length']} characters")
        return answer

    def blank(self, value):
        # A turn correction with no text says nothing, like an empty string.
        if isinstance(value, dict) and answer_text(value) == "":
            return ""
        return value

    def from_post(self, q, post, field):
        raw = post.get(field)
        turn = post.get(f"{field}-turn", "")
        if raw is not None and is_int_text(turn):
            return {"text": raw, "turn": int(turn)}
        return raw

    def display(self, q, value, task=None):
        if value is None:
            return "—"
        if isinstance(value, dict) and is_int(value.get("turn")):
            return f"(corrects turn {value['turn'] + 1}) {answer_text(value) or ''}"
        text = answer_text(value)
        return text if text is not None else str(value)

    def keys(self, q):
        return {"enter": "textarea"}

    def widget(self, q, value, *, data, view):
        original = task_field(data, q.get("prefill"))
        turn = value.get("turn") if isinstance(value, dict) else None
        if turn is not None and 0 <= turn < len(view["messages"]):
            original = view["messages"][turn]["content"]
        return {
            "original": original,
            "turn": turn,
            "value": (answer_text(value) or "") if value is not None else (original or ""),
            # Without a prefill the answer is the next assistant turn, or a
            # correction of an earlier one that the annotator picks.
            "next_turn": bool(view["messages"]) and not q.get("prefill") and self._turns(q),
        }

    @staticmethod
    def _turns(q: dict) -> bool:
        """Whether answers may correct or continue a conversation (``turns``, default true)."""
        return q.get("turns", True)

    def text_target(self, q, value):
        text = answer_text(value)
        if text is None:
            return None
        return text, value.get("turn") if isinstance(value, dict) else None


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
    if not is_int(turn) or turn not in assistant_turns:
        turns = ", ".join(str(t) for t in sorted(assistant_turns)) or "none in this task"
        raise ValueError(f"turn must be the index of an assistant turn ({turns})")
    return {"text": text, "turn": turn}
