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
