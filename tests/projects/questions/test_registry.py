from __future__ import annotations

import pytest

from projects import questions
from projects.questions.base import QuestionType
from projects.schema import QUESTION_TYPES, question_level


def test_every_type_is_registered_with_a_widget_template():
    from django.template.loader import get_template

    assert questions.TYPES == QUESTION_TYPES
    for name in questions.TYPES:
        kind = questions.get(name)
        assert isinstance(kind, QuestionType)
        assert kind.name == name
        get_template(kind.template)


def test_unknown_type_is_a_key_error():
    with pytest.raises(KeyError):
        questions.get("essay")


def test_levels_of_measurement():
    levels = {n: question_level({"type": n, "min": 1, "max": 5}) for n in questions.TYPES}
    assert levels == {
        "text": "text",
        "rating": "ordinal",
        "label": "nominal",
        "multilabel": "nominal",
        "preference": "ordinal",
        "ranking": "ordinal",
    }
    assert question_level({"type": "rating", "min": 1, "max": 5, "level": "interval"}) == "interval"


def test_export_yields():
    assert questions.yielding("text") == ("text",)
    assert questions.yielding("pairs") == ("preference", "ranking")
