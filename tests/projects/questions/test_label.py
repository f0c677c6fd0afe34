from __future__ import annotations

import pytest

from projects.questions import get
from projects.questions.widgets import question_widgets
from projects.schema import validate_answer

from .helpers import post, schema_errors

LABEL = get("label")
Q = {"name": "topic", "type": "label", "options": ["writing", "coding"]}


def test_schema_errors_name_the_field():
    errors = schema_errors({"name": "topic", "type": "label", "options": ["a"]})
    assert errors["questions[0].options"] == [
        "questions[0] (topic): options needs a list of at least two options"
    ]
    errors = schema_errors({"name": "topic", "type": "label", "options": ["a", "a"]})
    assert errors["questions[0].options"] == [
        "questions[0] (topic): options options must be distinct; repeated: a"
    ]


def test_answers():
    assert validate_answer(Q, "coding") == "coding"
    with pytest.raises(ValueError, match="must be one of writing, coding"):
        validate_answer(Q, "other")


def test_form_parsing_and_display():
    assert LABEL.from_post(Q, post(**{"q-topic": "coding"}), "q-topic") == "coding"
    assert LABEL.display(Q, "coding") == "coding"
    assert LABEL.display(Q, None) == "—"


def test_schema_change_may_add_but_not_drop_options():
    assert LABEL.schema_change(Q, {**Q, "options": ["writing", "coding", "other"]}) is None
    assert LABEL.schema_change(Q, {**Q, "options": ["writing", "other"]}) == (
        "topic has answers and cannot drop options: coding"
    )


def test_widget_and_keys():
    [w] = question_widgets([Q], {}, values={"topic": "coding"})
    assert w["options"] == [
        {"value": "writing", "key": 1, "checked": False},
        {"value": "coding", "key": 2, "checked": True},
    ]
    assert w["keys"] == {"digits": "nth", "advance": "1"}
