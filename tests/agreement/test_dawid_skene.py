"""Dawid-Skene recovers the competence of simulated annotators."""

from __future__ import annotations

import numpy as np

from agreement.dawid_skene import dawid_skene


def _simulate(rng, accuracies, *, units=3000, k=4, per_unit=3):
    truth = rng.integers(0, k, size=units)
    coders = np.argsort(rng.random((units, len(accuracies))), axis=1)[:, :per_unit]
    unit_idx = np.repeat(np.arange(units), per_unit)
    coder_idx = coders.ravel()
    correct = rng.random(len(unit_idx)) < np.asarray(accuracies)[coder_idx]
    # A wrong answer is one of the other categories, uniformly.
    wrong = (truth[unit_idx] + rng.integers(1, k, size=len(unit_idx))) % k
    codes = np.where(correct, truth[unit_idx], wrong)
    return truth, unit_idx, coder_idx, codes


def test_recovers_known_accuracies():
    rng = np.random.default_rng(7)
    accuracies = [0.95, 0.9, 0.8, 0.7, 0.55, 0.35]
    truth, units, coders, codes = _simulate(rng, accuracies)
    result = dawid_skene(
        units, coders, codes, n_units=len(truth), n_coders=len(accuracies), n_categories=4
    )
    assert np.abs(result.accuracy - accuracies).max() < 0.05
    # Weighing annotators beats the plain majority vote on the true labels.
    votes = np.zeros((len(truth), 4))
    np.add.at(votes, (units, codes), 1)
    majority = (votes.argmax(axis=1) == truth).mean()
    assert (result.posterior.argmax(axis=1) == truth).mean() > majority


def test_recovers_accuracies_for_a_rating_scale():
    rng = np.random.default_rng(8)
    accuracies = [0.9, 0.75, 0.6, 0.5, 0.85]
    truth, units, coders, codes = _simulate(rng, accuracies, k=5, units=4000)
    result = dawid_skene(
        units, coders, codes, n_units=len(truth), n_coders=len(accuracies), n_categories=5
    )
    assert np.abs(result.accuracy - accuracies).max() < 0.05
