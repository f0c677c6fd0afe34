"""``multilabel``: any number of a list of options, stored in the schema's order."""

from __future__ import annotations

from .base import QuestionType, check_target, is_int
from .label import check_options, dropped_options, option_widgets


class Multilabel(QuestionType):
    name = "multilabel"
    encoding = "subset"
    fields = frozenset({"options", "target", "min_selected", "max_selected"})
    default_level = "nominal"

    def check(self, q, err):
        check_options(q, err)
        for key in ("min_selected", "max_selected"):
            if key in q and (not is_int(q[key]) or q[key] < 0):
                err(key, "must be a non-negative integer")
        check_target(q, err)

    def similarity(self, q, a, b):
        # Jaccard: shared options over options chosen by either; none and none agree.
        sa, sb = set(a or []), set(b or [])
        return len(sa & sb) / len(sa | sb) if sa | sb else 1.0

    def schema_change(self, old, new):
        return dropped_options(old, new)

    def answer_space(self, q):
        return 2 ** len(q["options"])

    def required(self, q):
        # Choosing none of the options is an answer ("none apply"), never missing.
        return False

    def validate(self, q, value, *, n_responses, assistant_turns):
        options = q["options"]
        if not isinstance(value, list) or any(v not in options for v in value):
            raise ValueError(f"must be a list of options from {', '.join(options)}")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat an option")
        if len(value) < q.get("min_selected", 0):
            raise ValueError(f"needs at least {q['min_selected']} options")
        if "max_selected" in q and len(value) > q["max_selected"]:
            raise ValueError(f"allows at most {q['max_selected']} options")
        return [o for o in options if o in value]

    def from_post(self, q, post, field):
        # Unchecked boxes post nothing, so absence is the empty selection.
        return post.getlist(field)

    def display(self, q, value, task=None):
        if value is None:
            return "—"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "(none)"
        return str(value)

    def keys(self, q):
        return {"digits": "nth"}

    def widget(self, q, value, *, data, view):
        chosen = value if isinstance(value, list) else [value]
        return {"options": option_widgets(q, chosen), "input_type": "checkbox"}
