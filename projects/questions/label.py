"""``label``: one of a list of options."""

from __future__ import annotations

from .base import QuestionType, check_target


def check_options(q: dict, err) -> None:
    options = q.get("options")
    if not isinstance(options, list) or len(options) < 2:
        err("options", "needs a list of at least two options")
        return
    if not all(isinstance(o, str) and o.strip() for o in options):
        err("options", "every option must be a non-empty string")
    elif len(set(options)) != len(options):
        dupes = sorted({o for o in options if options.count(o) > 1})
        err("options", f"options must be distinct; repeated: {', '.join(dupes)}")


def dropped_options(old: dict, new: dict) -> str | None:
    lost = [o for o in old.get("options", []) if o not in new.get("options", [])]
    if lost:
        return f"{old['name']} has answers and cannot drop options: {', '.join(lost)}"
    return None


def option_widgets(q: dict, chosen: list) -> list[dict]:
    # Only the first nine options get a digit key.
    return [
        {"value": o, "key": i + 1 if i < 9 else None, "checked": o in chosen}
        for i, o in enumerate(q["options"])
    ]


class Label(QuestionType):
    name = "label"
    encoding = "categorical"
    fields = frozenset({"options", "target"})
    default_level = "nominal"

    def check(self, q, err):
        check_options(q, err)
        check_target(q, err)

    def schema_change(self, old, new):
        return dropped_options(old, new)

    def answer_space(self, q):
        return len(q["options"])

    def validate(self, q, value, *, n_responses, assistant_turns):
        if value not in q["options"]:
            raise ValueError(f"must be one of {', '.join(q['options'])}")
        return value

    def keys(self, q):
        return {"digits": "nth", "advance": "1"}

    def widget(self, q, value, *, data, view):
        return {"options": option_widgets(q, [value]), "input_type": "radio"}
