"""Consensus per unit and per task on its own: rules, ties, documents."""

from __future__ import annotations

import numpy as np
import orjson

from agreement import consensus
from agreement.encoding import encoder_for, tally


def _encoded(question, values, task_idx, n_tasks):
    encoder = encoder_for(question)
    enc = encoder.encode(np.array(values, dtype=float), np.array(task_idx), n_tasks)
    return encoder, enc, tally(enc, len(enc.unit_task))


LABEL = {"name": "topic", "type": "label", "options": ["a", "b", "c"]}
RATING = {"name": "score", "type": "rating", "min": 1, "max": 5}


def test_majority_ties_are_flagged_and_broken_by_dawid_skene_only_when_tied():
    encoder, enc, counted = _encoded(LABEL, [0, 1, 2, 2, 0], [0, 0, 1, 1, 1], 3)
    choice, tied = consensus.consensus(encoder.consensus, enc, counted, None, 3)
    np.testing.assert_array_equal(tied, [True, False, False])
    assert choice[0] == 0
    assert choice[1] == 2
    assert np.isnan(choice[2])
    ds = np.array([1.0, 0.0, 0.0])
    choice, _ = consensus.consensus(encoder.consensus, enc, counted, ds, 3)
    assert choice[0] == 1
    assert choice[1] == 2


def test_median_of_an_even_count_is_the_lower_one_and_a_tie():
    encoder, enc, counted = _encoded(RATING, [2, 4, 3, 3, 5], [0, 0, 1, 1, 1], 2)
    choice, tied = consensus.consensus(encoder.consensus, enc, counted, None, 2)
    np.testing.assert_array_equal(choice, [2.0, 3.0])
    np.testing.assert_array_equal(tied, [True, False])


def test_option_majority_ties_at_exactly_half():
    encoder = encoder_for({"name": "f", "type": "multilabel", "options": ["x", "y"]})
    masks = np.array([1.0, 3.0])  # two answers on one task: {x}, {x, y}
    enc, counted, _ = encoder.first_pass(masks, np.array([0, 0]), 1)
    choice, tied = consensus.consensus(encoder.consensus, enc, counted, None, 2)
    np.testing.assert_array_equal(choice, [1.0, 0.0])
    np.testing.assert_array_equal(tied, [False, True])


def test_text_consensus_is_the_medoid_and_ties_are_flagged():
    raw = np.array(['"the cat sat"', '"the cat sat down"', '"the cat"', '"x y"', '"z w"'], object)
    agreement, medoids, ties = consensus.text_agreement(raw, np.array([0, 0, 0, 1, 1]), 3)
    assert medoids[0] == "the cat sat"
    assert medoids[2] is None
    assert ties[1]
    assert not ties[0]
    assert agreement[1] == 0.0
    assert np.isnan(agreement[2])


def test_tasks_with_the_same_consensus_share_one_document():
    codes = np.array([0, 1, 0, -1])
    columns = [("topic", codes, ["a", "b"], np.array([False, False, False, False]))]
    columns.append(("score", np.array([0, 0, 0, 0]), [3], np.array([True, False, True, False])))
    numbers, docs = consensus.consensus_docs(columns, 4)
    assert numbers[0] == numbers[2] != numbers[1]
    assert orjson.loads(docs[numbers[0]]) == {"topic": "a", "score": 3, "_ties": ["score"]}
    assert orjson.loads(docs[numbers[3]]) == {"topic": None, "score": 3}


def test_lowest_skips_tasks_without_agreement():
    assert consensus.lowest(np.array([0.5, np.nan, 0.2, 0.9])) == [2, 0, 3]


def test_identical_text_answers_are_never_a_tie():
    turn = '{"text": "hi there", "turn": 1}'
    raw = np.array(['"the fixed reply"', '"the fixed reply"', turn, '"a b"', turn, '"c d"'], object)
    _, medoids, ties = consensus.text_agreement(raw, np.array([0, 0, 1, 2, 1, 2]), 3)
    assert medoids[0] == "the fixed reply"
    assert medoids[1] == {"text": "hi there", "turn": 1}
    # Two identical answers: agreed. Two different ones with equal support: a tie.
    np.testing.assert_array_equal(ties, [False, False, True])


def test_identical_answers_of_every_type_are_not_tied():
    questions = [
        ({"name": "l", "type": "label", "options": ["a", "b"]}, [1.0, 1.0]),
        ({"name": "r", "type": "rating", "min": 1, "max": 5}, [2.0, 2.0]),
        ({"name": "p", "type": "preference"}, [-1.0, -1.0]),
    ]
    for question, values in questions:
        encoder, enc, counted = _encoded(question, values, [0, 0], 1)
        _, tied = consensus.consensus(encoder.consensus, enc, counted, None, 1)
        assert not tied.any(), question["type"]
    ranking = encoder_for({"name": "k", "type": "ranking"})
    enc = ranking.encode(np.array(["[1, 0, 2]", "[1, 0, 2]"], object), np.array([0, 0]), 1)
    choice, tied = consensus.consensus(
        ranking.consensus, enc, tally(enc, len(enc.unit_task)), None, len(enc.unit_task)
    )
    _, table, tie_tasks = ranking.answers(enc, choice, tied, 1)
    assert table == [[1, 0, 2]]
    assert not tie_tasks.any()


def test_a_single_answer_is_marked_and_keeps_the_document_shape():
    columns = [("topic", np.array([0, 0]), ["a"], np.array([False, False]))]
    numbers, docs = consensus.consensus_docs(columns, 2, np.array([True, False]))
    assert orjson.loads(docs[numbers[0]]) == {"topic": "a", "_single": True}
    assert orjson.loads(docs[numbers[1]]) == {"topic": "a"}


def test_disputed_tasks_counts_supporting_answers_like_the_question_type():
    # Three tasks of answers (label indices): agree, 2 of 3, none; one single answer.
    label = {"name": "l", "type": "label", "options": ["a", "b", "c"]}
    task_idx = np.array([0, 0, 1, 1, 1, 2, 2, 2, 3])
    raw = np.array([0, 0, 0, 1, 0, 0, 1, 2, 2], dtype=float)
    split = consensus.disputed_tasks(label, encoder_for(label), raw, task_idx, 4)
    np.testing.assert_array_equal(split, [False, False, True, False])
    # Ratings agree within one step by default, within none with agree 0.
    rating = {"name": "r", "type": "rating", "min": 1, "max": 5}
    task_idx = np.array([0, 0, 1, 1, 2, 2])
    raw = np.array([2, 3, 2, 4, 5, np.nan])
    split = consensus.disputed_tasks(rating, encoder_for(rating), raw, task_idx, 3)
    np.testing.assert_array_equal(split, [False, True, True])
    strict = {**rating, "agree": 0}
    split = consensus.disputed_tasks(strict, encoder_for(strict), raw, task_idx, 3)
    np.testing.assert_array_equal(split, [True, True, True])
