from __future__ import annotations

import pytest

from projects.questions import get
from projects.questions.widgets import question_widgets
from projects.schema import validate_answer, validate_values

from .helpers import post, schema_errors

TEXT = get("text")
Q = {"name": "fix", "type": "text", "prefill": "responses.0", "min_length": 2, "required": True}


def test_schema_errors_name_the_field():
    errors = schema_errors({"name": "fix", "type": "text", "prefill": "nowhere", "max_length": -1})
    assert errors["questions[0].prefill"] == [
        "questions[0] (fix): prefill must name a task field: instruction, input, reference, "
        "responses.N or meta.KEY"
    ]
    assert errors["questions[0].max_length"] == [
        "questions[0] (fix): max_length must be a non-negative integer"
    ]


def test_answers_and_turn_corrections():
    assert validate_answer(Q, "ok") == "ok"
    with pytest.raises(ValueError, match="at least 2 characters"):
        validate_answer(Q, "x")
    turn = {"text": "better", "turn": 1}
    assert validate_answer(Q, turn, assistant_turns=frozenset({1})) == turn
    with pytest.raises(ValueError, match=r"assistant turn \(1\)"):
        validate_answer(Q, {"text": "better", "turn": 0}, assistant_turns=frozenset({1}))


def test_a_correction_without_text_is_empty():
    assert TEXT.blank({"text": "", "turn": 1}) == ""
    with pytest.raises(Exception, match="fix is required"):
        validate_values([Q], {"fix": {"text": "", "turn": 1}})


def test_form_parsing():
    assert TEXT.from_post(Q, post(**{"q-fix": "hello"}), "q-fix") == "hello"
    parsed = TEXT.from_post(Q, post(**{"q-fix": "hi", "q-fix-turn": "3"}), "q-fix")
    assert parsed == {"text": "hi", "turn": 3}
    assert TEXT.from_post(Q, post(), "q-fix") is None


def test_display_numbers_turns_from_one():
    assert TEXT.display(Q, "plain") == "plain"
    assert TEXT.display(Q, {"text": "fixed", "turn": 0}) == "(corrects turn 1) fixed"
    assert TEXT.display(Q, None) == "—"


def test_widget_starts_from_the_prefill():
    [w] = question_widgets([Q], {"instruction": "Hi", "responses": ["draft"]})
    assert w["template"] == "questions/text.html"
    assert w["value"] == w["original"] == "draft"
    assert w["keys"] == {"enter": "textarea"}
    assert not w["next_turn"]


def test_text_target_for_exports():
    assert TEXT.text_target(Q, "answer") == ("answer", None)
    assert TEXT.text_target(Q, {"text": "fixed", "turn": 3}) == ("fixed", 3)
    assert TEXT.text_target(Q, 5) is None
    assert TEXT.preference_pairs(Q, "answer", 2) == []


def test_a_note_never_offers_or_takes_a_turn_correction():
    conversation = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Is it safe?"},
        ]
    }
    reply = {"name": "reply", "type": "text"}
    note = {"name": "why", "type": "text", "required": False, "turns": False}
    widgets = question_widgets([reply, note], conversation)
    assert [w["next_turn"] for w in widgets] == [True, False]
    with pytest.raises(ValueError, match="none in this task"):
        validate_answer(note, {"text": "unsafe", "turn": 1}, assistant_turns=frozenset({1}))
    assert validate_answer(note, "It dodges the question.") == "It dodges the question."
    errors = schema_errors({"name": "why", "type": "text", "turns": "no"})
    assert errors["questions[0].turns"] == ["questions[0] (why): turns must be true or false"]
