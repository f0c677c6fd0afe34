from __future__ import annotations

import pytest

from projects.questions import get
from projects.questions.widgets import question_widgets
from projects.schema import answer_display, validate_answer

from .helpers import post

RANK = get("ranking")
Q = {"name": "order", "type": "ranking"}


def test_answers():
    assert validate_answer(Q, [2, 0, 1], n_responses=3) == [2, 0, 1]
    with pytest.raises(ValueError, match="every one of the 3 responses exactly once"):
        validate_answer(Q, [0, 1], n_responses=3)
    with pytest.raises(ValueError, match="list of response indices"):
        validate_answer(Q, "0,1", n_responses=2)


def test_form_parsing():
    assert RANK.from_post(Q, post(**{"q-order": "2,0,1"}), "q-order") == [2, 0, 1]
    assert RANK.from_post(Q, post(**{"q-order": "2,x"}), "q-order") == [2, "x"]


def test_display_names_responses_by_letter():
    assert RANK.display(Q, [1, 0, 2]) == "B > A > C"
    assert answer_display([1, 0, 2], Q) == "B > A > C"
    assert "[" not in RANK.display(Q, [0, 1])


def test_pairs_for_exports():
    assert RANK.preference_pairs(Q, [2, 0, 1], 3) == [(2, 0), (2, 1), (0, 1)]
    assert RANK.preference_pairs(Q, [0, 1], 3) == []


def test_widget_orders_the_responses():
    data = {"instruction": "Hi", "responses": ["one", "two", "three"]}
    [w] = question_widgets([Q], data, values={"order": [2, 0, 1]})
    assert [i["letter"] for i in w["items"]] == ["C", "A", "B"]
    assert w["order"] == "2,0,1"
    assert w["keys"] == {"digits": "order", "enter": "li"}
    [fresh] = question_widgets([Q], data)
    # Shown in the task's order, but not an answer until the annotator orders it.
    assert [item["index"] for item in fresh["items"]] == [0, 1, 2]
    assert fresh["order"] == ""
    assert fresh["ranked"] is False


def test_widget_sent_back_with_an_error_shows_every_response_unranked():
    data = {"instruction": "Q", "responses": ["a", "b", "c"]}
    [empty] = question_widgets([Q], data, values={"order": []})
    assert [item["index"] for item in empty["items"]] == [0, 1, 2]
    assert empty["ranked"] is False
    [partial] = question_widgets([Q], data, values={"order": [2]})
    assert [item["index"] for item in partial["items"]] == [2, 0, 1]
