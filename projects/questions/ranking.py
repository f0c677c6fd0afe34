"""``ranking``: every response of the task in order, best first (0-based indices stored)."""

from __future__ import annotations

from .base import QuestionType, is_int, letter


class Ranking(QuestionType):
    name = "ranking"
    encoding = "ranking"
    default_level = "ordinal"
    yields = frozenset({"pairs"})

    def validate(self, q, value, *, n_responses, assistant_turns):
        if not isinstance(value, list) or not all(is_int(v) for v in value):
            raise ValueError("must be a list of response indices, best first")
        if sorted(value) != list(range(n_responses)):
            raise ValueError(f"must order every one of the {n_responses} responses exactly once")
        return value

    def from_post(self, q, post, field):
        raw = post.get(field)
        if raw is None:
            return None
        return [int(p) if p.isdigit() else p for p in raw.split(",") if p != ""]

    def display(self, q, value, task=None):
        if value is None:
            return "—"
        if isinstance(value, list):
            names = [letter(v) if is_int(v) and v >= 0 else str(v) for v in value]
            return " > ".join(names) or "(none)"
        return str(value)

    def keys(self, q):
        return {"digits": "order", "enter": "li"}

    def widget(self, q, value, *, data, view):
        order = value if isinstance(value, list) else list(range(view["n_responses"]))
        by_index = {r["index"]: r for r in view["responses"]}
        return {
            "items": [by_index[i] for i in order if i in by_index],
            "order": ",".join(str(i) for i in order),
        }

    def preference_pairs(self, q, value, n_responses):
        if not isinstance(value, list) or sorted(value) != list(range(n_responses)):
            return []
        return [(value[i], value[j]) for i in range(len(value)) for j in range(i + 1, len(value))]
