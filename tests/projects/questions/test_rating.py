from __future__ import annotations

import pytest

from projects.questions import get
from projects.questions.widgets import question_widgets
from projects.schema import validate_answer

from .helpers import post, schema_errors

RATING = get("rating")
Q = {"name": "score", "type": "rating", "min": 1, "max": 5, "labels": {"4": "good"}}


def test_schema_errors_name_the_field():
    errors = schema_errors({"name": "score", "type": "rating", "min": 5, "max": 5, "level": "x"})
    assert errors["questions[0].max"] == ["questions[0] (score): max must be greater than min (5)"]
    assert errors["questions[0].level"] == [
        "questions[0] (score): level must be ordinal or interval"
    ]
    errors = schema_errors(
        {"name": "score", "type": "rating", "min": 1, "max": 3, "labels": {"9": "x"}, "target": "a"}
    )
    assert errors["questions[0].labels"] == [
        "questions[0] (score): labels has '9', which is not a point of the scale 1..3"
    ]
    assert "responses.N" in errors["questions[0].target"][0]


def test_answers():
    assert validate_answer(Q, 3) == 3
    assert validate_answer(Q, "4") == 4
    with pytest.raises(ValueError, match="must be an integer from 1 to 5"):
        validate_answer(Q, 6)


def test_form_parsing():
    assert RATING.from_post(Q, post(**{"q-score": "4"}), "q-score") == 4
    assert RATING.from_post(Q, post(**{"q-score": "four"}), "q-score") == "four"
    assert RATING.from_post(Q, post(), "q-score") is None


def test_display_shows_the_label():
    assert RATING.display(Q, 4) == "4 · good"
    assert RATING.display(Q, 2) == "2"
    assert RATING.display(Q, 4.0) == "4 · good"


def test_schema_change_keeps_the_scale():
    assert RATING.schema_change(Q, {**Q, "labels": {"1": "bad"}}) is None
    assert (
        RATING.schema_change(Q, {**Q, "max": 7}) == "score has answers and cannot change its scale"
    )


def test_widget_and_keys():
    [w] = question_widgets([Q], {}, values={"score": 4})
    assert [p["value"] for p in w["points"]] == [1, 2, 3, 4, 5]
    assert [p["value"] for p in w["points"] if p["checked"]] == [4]
    assert w["points"][3]["text"] == "4 · good"
    assert w["keys"] == {"digits": "value", "advance": "1"}
    assert RATING.preference_pairs(Q, 4, 2) == []
