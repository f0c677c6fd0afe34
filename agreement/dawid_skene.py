"""Dawid & Skene (1979): latent true labels and per-annotator confusion matrices by EM.

Works on the long form of the answers (one entry per annotation: unit, coder,
category code), so a project of any size costs a few sparse products per
iteration, never a loop over annotations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

SMOOTHING = 0.01  # additive prior on every confusion cell; keeps log() finite


@dataclass
class DawidSkene:
    posterior: np.ndarray  # units x categories: P(true category | answers)
    priors: np.ndarray  # categories
    confusion: np.ndarray  # coders x true x given
    accuracy: np.ndarray  # coders: P(answer == truth), weighted by the class priors
    iterations: int


def dawid_skene(
    units: np.ndarray,
    coders: np.ndarray,
    codes: np.ndarray,
    *,
    n_units: int,
    n_coders: int,
    n_categories: int,
    max_iter: int = 50,
    tol: float = 1e-4,
) -> DawidSkene:
    """Estimate true categories and annotator competence from (unit, coder, code) triples."""
    k = n_categories
    # X[u, j * k + given] = 1 when coder j answered `given` on unit u. The E step is
    # then one sparse product with log pi, the M step one with the posterior.
    column = coders.astype(np.int64) * k + codes
    # Units with the same answers from the same annotators share their posterior:
    # run EM once per distinct answer pattern, weighted by how many units have it.
    # (A random projection of the indicator row identifies the pattern.)
    probe = np.random.default_rng(0).random(n_coders * k)
    keys = np.bincount(units, weights=probe[column], minlength=n_units)
    _, first, inverse, weight = np.unique(
        keys, return_index=True, return_inverse=True, return_counts=True
    )
    # X only for one unit of each pattern.
    pattern = np.full(n_units, -1, dtype=np.int64)
    pattern[first] = np.arange(len(first))
    row = pattern[units]
    keep = row >= 0
    x = sparse.csr_matrix(
        (np.ones(int(keep.sum())), (row[keep], column[keep])), shape=(len(first), n_coders * k)
    )
    xt = x.T.tocsr()
    weight = weight.astype(float)[:, None]
    votes = np.asarray(x @ np.tile(np.eye(k), (n_coders, 1)))
    answered = votes.sum(axis=1, keepdims=True)
    # Start from the soft majority vote.
    posterior = np.where(answered > 0, votes / np.maximum(answered, 1), 1.0 / k)
    iterations = 0
    for _ in range(max_iter):
        iterations += 1
        # M step: class priors and confusion matrices from the soft labels.
        priors = (posterior * weight).sum(axis=0) + 1e-12
        priors /= priors.sum()
        counts = np.asarray(xt @ (posterior * weight)).reshape(n_coders, k, k)  # coder, given, true
        confusion = counts.transpose(0, 2, 1) + SMOOTHING  # coder, true, given
        confusion /= confusion.sum(axis=2, keepdims=True)
        # E step: log prior + sum over the unit's answers of log pi[j, true, given].
        log_pi = np.log(confusion).transpose(0, 2, 1).reshape(n_coders * k, k)
        log_post = np.log(priors)[None, :] + np.asarray(x @ log_pi)
        log_post -= log_post.max(axis=1, keepdims=True)
        updated = np.exp(log_post)
        updated /= updated.sum(axis=1, keepdims=True)
        change = np.abs(updated - posterior).max()
        posterior = updated
        if change < tol:
            break
    accuracy = (confusion[:, np.arange(k), np.arange(k)] * priors[None, :]).sum(axis=1)
    return DawidSkene(posterior[inverse.ravel()], priors, confusion, accuracy, iterations)
