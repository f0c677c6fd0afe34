"""Each kind of question encoding on its own: SQL, codes, gold answers, answer shapes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agreement.encoding import (
    MAJORITY,
    MEAN,
    MEDIAN,
    OPTION_MAJORITY,
    Categorical,
    Encoder,
    Multilabel,
    Preference,
    Ranking,
    Rating,
    Text,
    encoder_for,
)

QUESTIONS = [
    ({"name": "topic", "type": "label", "options": ["a", "b", "c"]}, Categorical),
    ({"name": "score", "type": "rating", "min": 1, "max": 5}, Rating),
    ({"name": "better", "type": "preference", "strength": True}, Preference),
    ({"name": "flags", "type": "multilabel", "options": ["x", "y", "z"]}, Multilabel),
    ({"name": "order", "type": "ranking"}, Ranking),
    ({"name": "note", "type": "text"}, Text),
]


@pytest.mark.parametrize(("question", "kind"), QUESTIONS)
def test_encoder_for_picks_one_encoding_per_type_with_sql_params_that_fit(question, kind):
    encoder = encoder_for(question)
    assert type(encoder) is kind
    expr, params = encoder.select_sql()
    assert expr.count("%s") == len(params)
    assert question["name"] in params


def test_an_unknown_type_is_not_coded():
    encoder = encoder_for({"name": "odd", "type": "sketch"})
    assert type(encoder) is Encoder
    assert encoder.encode(np.array(["x"], dtype=object), np.zeros(1, int), 1) is None


def test_categorical_codes_are_option_indexes():
    encoder = encoder_for(QUESTIONS[0][0])
    assert encoder.numeric
    assert encoder.dawid_skene
    assert encoder.consensus == MAJORITY
    assert [encoder.from_value(v) for v in ["c", "nope", None]] == [2, None, None]
    enc = encoder.encode(np.array([0.0, np.nan, 2.0]), np.array([0, 0, 1]), 2)
    np.testing.assert_array_equal(enc.rows, [0, 2])
    np.testing.assert_array_equal(enc.units, [0, 1])
    np.testing.assert_array_equal(enc.values, [0.0, 2.0])
    assert enc.level == "nominal"
    assert enc.labels == ["a", "b", "c"]
    codes, table, _ = encoder.answers(enc, np.array([2.0, np.nan]), np.zeros(2, bool), 2)
    assert [table[c] if c >= 0 else None for c in codes] == ["c", None]


def test_rating_level_decides_mean_or_median_and_reads_back_integers():
    ordinal = encoder_for({"name": "s", "type": "rating", "min": 1, "max": 5})
    interval = encoder_for(
        {"name": "s", "type": "rating", "min": 0, "max": 10, "level": "interval"}
    )
    assert ordinal.consensus == MEDIAN
    assert interval.consensus == MEAN
    assert ordinal.from_value(4) == 4.0
    assert ordinal.from_value("4") is None
    enc = ordinal.encode(np.array([1.0, 5.0]), np.array([0, 0]), 1)
    assert enc.span == 4.0
    assert list(enc.scale) == [1, 2, 3, 4, 5]
    codes, table, _ = ordinal.answers(enc, np.array([4.0]), np.zeros(1, bool), 1)
    assert table[codes[0]] == 4
    enc = interval.encode(np.array([1.0, 2.0]), np.array([0, 0]), 1)
    codes, table, _ = interval.answers(enc, np.array([1.5]), np.zeros(1, bool), 1)
    assert table[codes[0]] == 1.5


def test_preference_scores_and_answer_shapes():
    encoder = encoder_for(QUESTIONS[2][0])
    assert encoder.from_value({"choice": "A", "strength": 2}) == -2
    assert encoder.from_value("tie") == 0
    enc = encoder.encode(np.array([-2.0, 3.0]), np.array([0, 1]), 2)
    assert list(enc.scale) == [-3, -2, -1, 0, 1, 2, 3]
    assert enc.span == 6.0
    codes, table, _ = encoder.answers(enc, np.array([-2.0, 0.0]), np.zeros(2, bool), 2)
    assert [table[c] for c in codes] == [
        {"choice": "A", "strength": 2},
        {"choice": "tie", "strength": 0},
    ]


def test_multilabel_bitmask_spreads_answers_over_task_option_units():
    encoder = encoder_for(QUESTIONS[3][0])
    assert encoder.bitmask
    assert encoder.deferred
    assert encoder.consensus == OPTION_MAJORITY
    assert encoder.from_value(["y", "z"]) == 6
    masks = np.array([1.0, 3.0, np.nan, 4.0])  # {x}, {x, y}, unanswered, {z}
    task_idx = np.array([0, 0, 1, 1])
    enc, counted, rest = encoder.first_pass(masks, task_idx, 2)
    assert rest is masks
    assert len(enc.units) == 0
    np.testing.assert_array_equal(counted.counts[1], [2, 1, 0, 0, 0, 1])  # chosen per unit
    np.testing.assert_array_equal(counted.total, [2, 2, 2, 1, 1, 1])
    enc = encoder.complete(masks, task_idx, 2, counted)
    np.testing.assert_array_equal(enc.units, [0, 0, 1, 1, 2, 2, 3, 4, 5])
    np.testing.assert_array_equal(enc.values, [1, 1, 0, 1, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(counted.codes, enc.values)
    codes, table, _ = encoder.answers(enc, np.array([1.0, 0, 0, 0, 0, 1]), np.zeros(6, bool), 2)
    assert [table[c] for c in codes] == [["x"], ["z"]]


def test_multilabel_with_many_options_loads_as_json():
    options = [f"o{i}" for i in range(70)]
    encoder = encoder_for({"name": "many", "type": "multilabel", "options": options})
    assert not encoder.bitmask
    assert not encoder.numeric
    assert encoder.from_value(["o1"]) == json.dumps(["o1"])
    enc = encoder.encode(np.array(['["o1", "o69"]', None], dtype=object), np.array([0, 1]), 2)
    assert enc.values.sum() == 2
    assert len(enc.unit_task) == 140


def test_ranking_values_are_positions_per_response():
    encoder = encoder_for(QUESTIONS[4][0])
    assert encoder.consensus == MEAN
    enc = encoder.encode(np.array(["[2, 0, 1]", ""], dtype=object), np.array([0, 0]), 1)
    np.testing.assert_array_equal(enc.units, [0, 1, 2])
    np.testing.assert_array_equal(enc.values, [1, 2, 0])  # response 0 second, 1 third, 2 first
    codes, table, ties = encoder.answers(enc, np.array([1.0, 2.0, 0.0]), np.zeros(3, bool), 1)
    assert table[codes[0]] == [2, 0, 1]
    assert not ties[0]


def test_text_is_free_text_without_codes():
    encoder = encoder_for(QUESTIONS[5][0])
    assert encoder.free_text
    assert encoder.encode(np.array(['"hi"'], dtype=object), np.zeros(1, int), 1) is None
