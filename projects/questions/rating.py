"""``rating``: an integer on a scale ``min..max``, with optional labels for its points."""

from __future__ import annotations

from web.input import is_int_text

from .base import QuestionType, check_target, is_int


def _labels(q: dict) -> dict[str, str]:
    return {str(k): v for k, v in (q.get("labels") or {}).items()}


class Rating(QuestionType):
    name = "rating"
    encoding = "scale"
    fields = frozenset({"min", "max", "labels", "level", "target"})
    default_level = "ordinal"

    def check(self, q, err):
        lo, hi = q.get("min"), q.get("max")
        if not is_int(lo):
            err("min", "must be an integer")
        if not is_int(hi):
            err("max", "must be an integer")
        if is_int(lo) and is_int(hi):
            if hi <= lo:
                err("max", f"must be greater than min ({lo})")
            elif hi - lo > 100:
                err("max", "allows at most 101 points on a scale")
        labels = q.get("labels")
        if labels is not None:
            if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
                err("labels", "must map scale points to label strings")
            elif is_int(lo) and is_int(hi):
                for key in labels:
                    if not (is_int_text(str(key)) and lo <= int(key) <= hi):
                        err("labels", f"has {key!r}, which is not a point of the scale {lo}..{hi}")
                        break
        if q.get("level", "ordinal") not in ("ordinal", "interval"):
            err("level", "must be ordinal or interval")
        check_target(q, err)

    agree_unit = "steps"
    default_agree = 1  # within one step

    def pair_agrees(self, q, a, b):
        if a is None or b is None:
            return a is b
        return abs(a - b) <= self.agree_threshold(q)

    def answer_space(self, q):
        # Every point of the scale is an answer of its own: the accuracy the
        # project estimates is of exact answers.
        return q["max"] - q["min"] + 1

    def level(self, q):
        # A lead may declare the points equally spaced, so distances count.
        return q.get("level", self.default_level)

    def schema_change(self, old, new):
        if new.get("min") != old.get("min") or new.get("max") != old.get("max"):
            return f"{old['name']} has answers and cannot change its scale"
        return None

    def validate(self, q, value, *, n_responses, assistant_turns):
        if is_int_text(value):
            value = int(value)
        lo, hi = q["min"], q["max"]
        if not is_int(value) or not lo <= value <= hi:
            raise ValueError(f"must be an integer from {lo} to {hi}")
        return value

    def from_post(self, q, post, field):
        raw = post.get(field)
        if raw is None:
            return None
        return int(raw) if is_int_text(raw) else raw

    def display(self, q, value, task=None):
        if value is None:
            return "—"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        label = _labels(q).get(str(value))
        return f"{value} · {label}" if label else str(value)

    def keys(self, q):
        return {"digits": "value", "advance": "1"}

    def widget(self, q, value, *, data, view):
        labels = _labels(q)
        return {
            "points": [
                {
                    "value": p,
                    "label": labels.get(str(p), ""),
                    "text": self.display(q, p),
                    "checked": value == p,
                }
                for p in range(q["min"], q["max"] + 1)
            ]
        }
