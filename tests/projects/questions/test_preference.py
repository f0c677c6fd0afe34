from __future__ import annotations

import pytest

from projects.questions import get
from projects.questions.widgets import question_widgets
from projects.schema import preference_score, validate_answer

from .helpers import post, schema_errors

PREF = get("preference")
Q = {"name": "better", "type": "preference"}
QS = {"name": "better", "type": "preference", "strength": True}


def test_schema_errors_name_the_field():
    errors = schema_errors({**Q, "strength": "yes"})
    assert errors["questions[0].strength"] == [
        "questions[0] (better): strength must be true or false"
    ]


def test_answers():
    assert validate_answer(Q, "A") == "A"
    assert validate_answer(QS, "B") == {"choice": "B", "strength": 1}
    assert validate_answer(QS, {"choice": "tie", "strength": 3}) == {"choice": "tie", "strength": 0}
    with pytest.raises(ValueError, match="strength must be 1, 2 or 3"):
        validate_answer(QS, {"choice": "A", "strength": 4})
    with pytest.raises(ValueError, match="must be A, B or tie"):
        validate_answer(Q, "C")


def test_form_parsing():
    assert PREF.from_post(Q, post(**{"q-better": "A"}), "q-better") == "A"
    parsed = PREF.from_post(QS, post(**{"q-better": "B", "q-better-strength": "3"}), "q-better")
    assert parsed == {"choice": "B", "strength": 3}
    assert PREF.from_post(QS, post(**{"q-better": "A"}), "q-better") == {
        "choice": "A",
        "strength": 1,
    }


def test_display_in_words():
    assert PREF.display(Q, "A") == "A is better"
    assert PREF.display(Q, "tie") == "Tie"
    assert PREF.display(QS, {"choice": "A", "strength": 2}) == "A is better (clearly)"
    assert PREF.display(QS, {"choice": "tie", "strength": 0}) == "Tie"
    assert PREF.display(QS, 3) == "B is better (much)"  # a consensus on the -3..3 scale


def test_scores_and_pairs():
    assert preference_score({"choice": "A", "strength": 3}) == -3
    assert PREF.preference_pairs(Q, "A", 2) == [(0, 1)]
    assert PREF.preference_pairs(QS, {"choice": "B", "strength": 2}, 2) == [(1, 0)]
    assert PREF.preference_pairs(Q, -1.0, 2) == [(0, 1)]
    assert PREF.preference_pairs(Q, "tie", 2) == []
    assert PREF.preference_pairs(Q, "A", 1) == []


def test_widget_and_keys():
    [w] = question_widgets([QS], {}, values={"better": {"choice": "B", "strength": 3}})
    assert [c["value"] for c in w["choices"] if c["checked"]] == ["B"]
    assert [s["value"] for s in w["strengths"] if s["checked"]] == [3]
    assert w["keys"] == {"letters": "a=A,b=B,t=tie", "digits": "value", "digit-field": "-strength"}
    assert "digits" not in PREF.keys(Q)
