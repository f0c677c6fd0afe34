from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from projects.questions import get
from projects.questions.widgets import question_widgets
from projects.schema import validate_answer, validate_values

from .helpers import post, schema_errors

MULTI = get("multilabel")
Q = {"name": "tags", "type": "multilabel", "options": ["short", "wrong", "rude"], "max_selected": 2}


def test_schema_errors_name_the_field():
    errors = schema_errors({**Q, "min_selected": -1})
    assert errors["questions[0].min_selected"] == [
        "questions[0] (tags): min_selected must be a non-negative integer"
    ]


def test_answers_are_stored_in_schema_order():
    assert validate_answer(Q, ["rude", "short"]) == ["short", "rude"]
    with pytest.raises(ValueError, match="at most 2 options"):
        validate_answer(Q, ["rude", "short", "wrong"])
    with pytest.raises(ValueError, match="must not repeat"):
        validate_answer(Q, ["rude", "rude"])


def test_an_empty_selection_is_an_answer():
    assert validate_values([{**Q, "required": True}], {"tags": []}) == {"tags": []}
    with pytest.raises(ValidationError):
        validate_values([Q], {"tags": ["nope"]})


def test_form_parsing_and_display():
    assert MULTI.from_post(Q, post(**{"q-tags": ["short", "rude"]}), "q-tags") == ["short", "rude"]
    assert MULTI.from_post(Q, post(), "q-tags") == []
    assert MULTI.display(Q, ["short", "rude"]) == "short, rude"
    assert MULTI.display(Q, []) == "(none)"


def test_widget_and_keys():
    [w] = question_widgets([Q], {}, values={"tags": ["rude"]})
    assert [o["value"] for o in w["options"] if o["checked"]] == ["rude"]
    assert w["keys"] == {"digits": "nth"}
    assert MULTI.schema_change(Q, {**Q, "options": ["short"]}) == (
        "tags has answers and cannot drop options: wrong, rude"
    )
