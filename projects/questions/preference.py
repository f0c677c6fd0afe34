"""``preference``: which of responses A and B is better, or a tie; optionally how much."""

from __future__ import annotations

from typing import Any

from web.input import is_int_text

from .base import QuestionType, is_int
from .order import pair_swapped

PREFERENCE_CHOICES = ("A", "B", "tie")
CHOICES = (("A", "A is better", "A"), ("B", "B is better", "B"), ("tie", "Tie", "T"))
STRENGTHS = [(1, "slightly"), (2, "clearly"), (3, "much")]


def preference_score(value: Any) -> int:
    """Place a preference answer on the ordinal scale -3..3 (A strongly .. B strongly)."""
    if isinstance(value, dict):
        choice, strength = value.get("choice"), value.get("strength") or 1
    else:
        choice, strength = value, 1
    if choice == "tie":
        return 0
    return -strength if choice == "A" else strength


def _flip(value: Any) -> Any:
    """The same answer with A and B exchanged (strength and tie unchanged)."""
    other = {"A": "B", "B": "A"}
    if isinstance(value, dict) and value.get("choice") in other:
        return {**value, "choice": other[value["choice"]]}
    return other.get(value, value) if isinstance(value, str) else value


def _choice_strength(value: Any) -> tuple[Any, Any]:
    """(choice, strength) of an answer, or of a consensus on the -3..3 scale."""
    if isinstance(value, dict):
        return value.get("choice"), value.get("strength")
    if isinstance(value, int | float) and not isinstance(value, bool):
        side = "A" if value < 0 else "B" if value > 0 else "tie"
        return side, round(abs(value)) or None
    return value, None


class Preference(QuestionType):
    name = "preference"
    encoding = "preference"
    fields = frozenset({"strength"})
    default_level = "ordinal"
    yields = frozenset({"pairs"})
    compares_pair = True

    def check(self, q, err):
        if "strength" in q and not isinstance(q["strength"], bool):
            err("strength", "must be true or false")

    def answer_space(self, q):
        # A, B and tie; with strengths, three of each side and the tie.
        return 7 if q.get("strength") else 3

    def similarity(self, q, a, b):
        # The same choice and strength: 1; the same side with another strength: 0.5.
        (choice_a, strength_a), (choice_b, strength_b) = _choice_strength(a), _choice_strength(b)
        if choice_a != choice_b:
            return 0.0
        return 1.0 if strength_a == strength_b else 0.5

    def validate(self, q, value, *, n_responses, assistant_turns):
        if q.get("strength"):
            if isinstance(value, str):
                value = {"choice": value, "strength": 1}
            if not isinstance(value, dict) or value.get("choice") not in PREFERENCE_CHOICES:
                raise ValueError('must be {"choice": "A"|"B"|"tie", "strength": 1..3}')
            if value["choice"] == "tie":
                return {"choice": "tie", "strength": 0}
            strength = value.get("strength", 1)
            if not is_int(strength) or not 1 <= strength <= 3:
                raise ValueError("strength must be 1, 2 or 3")
            return {"choice": value["choice"], "strength": strength}
        if isinstance(value, dict):
            value = value.get("choice")
        if value not in PREFERENCE_CHOICES:
            raise ValueError("must be A, B or tie")
        return value

    def from_post(self, q, post, field):
        raw = post.get(field)
        if q.get("strength") and raw in PREFERENCE_CHOICES:
            strength = post.get(f"{field}-strength", "1")
            return {"choice": raw, "strength": int(strength) if is_int_text(strength) else strength}
        return raw

    def canonical(self, q, value, order):
        # "A" is the first of the two shown: response 1 when the pair is shown swapped.
        return _flip(value) if pair_swapped(order) else value

    def display(self, q, value, task=None):
        if value is None:
            return "—"
        choice, strength = _choice_strength(value)
        titles = {c: title for c, title, _ in CHOICES}
        if choice not in titles:
            return str(choice)
        words = dict(STRENGTHS)
        if choice != "tie" and strength in words:
            return f"{titles[choice]} ({words[strength]})"
        return titles[choice]

    def keys(self, q):
        keys = {"letters": ",".join(f"{key.lower()}={c}" for c, _, key in CHOICES)}
        if q.get("strength"):
            keys.update(digits="value", **{"digit-field": "-strength"})
        return keys

    def widget(self, q, value, *, data, view):
        if pair_swapped(view.get("order")):
            value = _flip(value)
        choice, strength = _choice_strength(value)
        return {
            "choices": [
                {"value": c, "label": label, "key": key, "checked": choice == c}
                for c, label, key in CHOICES
            ],
            "strengths": [
                {"value": s, "label": label, "checked": (strength or 1) == s}
                for s, label in STRENGTHS
            ],
        }

    def preference_pairs(self, q, value, n_responses):
        choice, _ = _choice_strength(value)
        if n_responses < 2 or choice not in ("A", "B"):
            return []
        return [(0, 1)] if choice == "A" else [(1, 0)]
