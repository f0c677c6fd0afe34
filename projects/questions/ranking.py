"""``ranking``: every response of the task in order, best first (0-based indices stored)."""

from __future__ import annotations

from web.input import is_int_text

from .base import QuestionType, is_int, letter


class Ranking(QuestionType):
    name = "ranking"
    encoding = "ranking"
    default_level = "ordinal"
    yields = frozenset({"pairs"})

    def similarity(self, q, a, b):
        # The share of response pairs both answers put in the same order (Kendall).
        if a == b:
            return 1.0
        if not isinstance(a, list) or not isinstance(b, list) or sorted(a) != sorted(b):
            return 0.0
        pos_a = {r: i for i, r in enumerate(a)}
        pos_b = {r: i for i, r in enumerate(b)}
        pairs = [(x, y) for i, x in enumerate(a) for y in a[i + 1 :]]
        same = sum((pos_a[x] < pos_a[y]) == (pos_b[x] < pos_b[y]) for x, y in pairs)
        return same / len(pairs) if pairs else 1.0

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
        return [int(p) if is_int_text(p) else p for p in raw.split(",") if p != ""]

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
        ranked = isinstance(value, list) and bool(value)
        # Items carry their canonical index, so the posted order is canonical as it is.
        order = value if ranked else view.get("order") or list(range(view["n_responses"]))
        by_index = {r["index"]: r for r in view["responses"]}
        shown = [i for i in order if i in by_index]
        # A partial or bad order (sent back with its error) still shows every response.
        shown += [i for i in by_index if i not in shown]
        return {
            "items": [by_index[i] for i in shown],
            # Unranked until the annotator orders the responses (or keeps the shown
            # order on purpose): the shown order is not an answer.
            "order": ",".join(str(i) for i in order) if ranked else "",
            "ranked": ranked,
        }

    def preference_pairs(self, q, value, n_responses):
        if not isinstance(value, list) or sorted(value) != list(range(n_responses)):
            return []
        return [(value[i], value[j]) for i in range(len(value)) for j in range(i + 1, len(value))]
