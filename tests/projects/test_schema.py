import pytest
from django.core.exceptions import ValidationError

from projects.schema import (
    answer_context,
    preference_score,
    validate_answer,
    validate_questions,
    validate_values,
)

GOOD = [
    {"name": "reply", "type": "text", "prefill": "responses.0"},
    {"name": "score", "type": "rating", "min": 1, "max": 5, "labels": {"1": "bad", "5": "great"}},
    {"name": "topic", "type": "label", "options": ["a", "b"]},
    {"name": "flags", "type": "multilabel", "options": ["x", "y", "z"], "required": False},
    {"name": "better", "type": "preference", "strength": True},
    {"name": "order", "type": "ranking"},
]


def test_valid_schema_is_normalised_with_titles_and_required():
    questions = validate_questions(GOOD)
    assert [q["name"] for q in questions] == [q["name"] for q in GOOD]
    assert questions[0]["title"] == "reply"
    assert questions[0]["required"] is True
    assert questions[3]["required"] is False


@pytest.mark.parametrize(
    ("question", "key", "fragment"),
    [
        ({"name": "Bad Name", "type": "text"}, "questions[0].name", "lowercase"),
        ({"name": "q", "type": "essay"}, "questions[0].type", "must be one of"),
        ({"name": "q", "type": "rating", "min": 5, "max": 1}, "questions[0].max", "greater than"),
        ({"name": "q", "type": "rating", "min": "1", "max": 5}, "questions[0].min", "integer"),
        (
            {"name": "q", "type": "rating", "min": 1, "max": 5, "labels": {"9": "x"}},
            "questions[0].labels",
            "not a point",
        ),
        ({"name": "q", "type": "label", "options": ["only"]}, "questions[0].options", "two"),
        ({"name": "q", "type": "label", "options": ["a", "a"]}, "questions[0].options", "distinct"),
        ({"name": "q", "type": "multilabel"}, "questions[0].options", "two"),
        (
            {"name": "q", "type": "text", "prefill": "responses"},
            "questions[0].prefill",
            "task field",
        ),
        ({"name": "q", "type": "preference", "strength": "yes"}, "questions[0].strength", "true"),
        ({"name": "q", "type": "ranking", "options": ["a"]}, "questions[0].options", "not a field"),
        (
            {"name": "q", "type": "rating", "min": 1, "max": 5, "level": "ratio"},
            "questions[0].level",
            "ordinal or interval",
        ),
    ],
)
def test_invalid_question_is_refused_naming_question_and_field(question, key, fragment):
    with pytest.raises(ValidationError) as info:
        validate_questions([question])
    errors = info.value.message_dict
    assert key in errors, errors
    assert fragment in errors[key][0]
    assert errors[key][0].startswith("questions[0]")


def test_duplicate_names_point_at_the_second_question():
    with pytest.raises(ValidationError) as info:
        validate_questions([{"name": "q", "type": "text"}, {"name": "q", "type": "text"}])
    assert "questions[1].name" in info.value.message_dict


def test_schema_must_be_a_list():
    with pytest.raises(ValidationError):
        validate_questions({"name": "q"})


def test_answers_are_validated_and_normalised():
    questions = validate_questions(GOOD)
    clean = validate_values(
        questions,
        {
            "reply": "fixed",
            "score": "4",
            "topic": "b",
            "flags": ["z", "x"],
            "better": "A",
            "order": [1, 0],
        },
        n_responses=2,
    )
    assert clean["score"] == 4
    assert clean["flags"] == ["x", "z"]
    assert clean["better"] == {"choice": "A", "strength": 1}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"score": 9}, "values.score"),
        ({"topic": "c"}, "values.topic"),
        ({"order": [0, 0]}, "values.order"),
        ({"better": {"choice": "B", "strength": 7}}, "values.better"),
        ({"nope": 1}, "values.nope"),
    ],
)
def test_bad_answers_name_the_question(values, field):
    questions = validate_questions(GOOD)
    full = {"reply": "r", "score": 3, "topic": "a", "better": "tie", "order": [0, 1]}
    with pytest.raises(ValidationError) as info:
        validate_values(questions, {**full, **values}, n_responses=2)
    assert field in info.value.message_dict


def test_missing_required_answer_is_reported():
    questions = validate_questions(GOOD)
    with pytest.raises(ValidationError) as info:
        validate_values(questions, {"reply": "r"}, n_responses=2)
    assert "values.score" in info.value.message_dict
    assert "values.flags" not in info.value.message_dict


def test_preference_scores_span_minus_three_to_three():
    assert preference_score({"choice": "A", "strength": 3}) == -3
    assert preference_score("tie") == 0
    assert preference_score("B") == 1
    with pytest.raises(ValueError, match="A, B or tie"):
        validate_answer({"type": "preference"}, "C")


CONVERSATION = {
    "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
}


def test_text_answer_may_correct_an_assistant_turn():
    questions = [{"name": "reply", "type": "text"}]
    context = answer_context(CONVERSATION)
    assert context == {"n_responses": 0, "assistant_turns": frozenset({1})}
    corrected = {"text": "Hello there", "turn": 1}
    assert validate_values(questions, {"reply": corrected}, **context) == {"reply": corrected}
    # Without a turn the object is just its text: the next assistant turn.
    assert validate_values(questions, {"reply": {"text": "See you"}}, **context) == {
        "reply": "See you"
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"text": "x", "turn": 0}, "reply turn must be the index of an assistant turn (1)"),
        ({"text": "x", "turn": 7}, "reply turn must be the index of an assistant turn (1)"),
        ({"text": "x", "turn": "1"}, "reply turn must be the index of an assistant turn (1)"),
        ({"text": 3, "turn": 1}, "reply text must be a string"),
        ({"text": "", "turn": 1}, "reply is required"),
        (["x"], 'reply must be a string, or {"text": …, "turn": n} to correct a turn'),
    ],
)
def test_bad_turn_corrections_name_the_problem(value, message):
    questions = [{"name": "reply", "type": "text"}]
    with pytest.raises(ValidationError) as exc:
        validate_values(questions, {"reply": value}, **answer_context(CONVERSATION))
    assert exc.value.message_dict == {"values.reply": [message]}
