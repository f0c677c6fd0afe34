"""How likely a task's consensus on one question is, weighing each answer by its annotator.

The model is the one-coin model of Dawid and Skene: an annotator with accuracy
``a`` gives the true answer with probability ``a`` and each of the ``K - 1``
others with ``(1 - a) / (K - 1)``, independently of the other annotators. With
a uniform prior, the posterior of a candidate ``c`` is proportional to the
product over answers of ``a`` where the answer is ``c`` and ``(1 - a) / (K - 1)``
where it is not; answers nobody gave share what is left.
"""

from __future__ import annotations

import json
from math import prod
from typing import Any

#: The accuracy assumed for an annotator the project has not estimated yet.
PRIOR_ACCURACY = 0.7
#: No one is trusted to be always right, however well they did so far.
MAX_ACCURACY = 0.99


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def clipped(accuracy: float | None, space: int) -> float:
    """An accuracy fit for the model: known or the prior, never below chance, never certain.

    Below chance (``1 / K``) an annotator's answer carries no evidence, rather
    than evidence for everything they did not say.
    """
    a = PRIOR_ACCURACY if accuracy is None else float(accuracy)
    return min(MAX_ACCURACY, max(1.0 / space, a))


def consensus_confidence(values: list[Any], accuracies: list[float | None], space: int) -> float:
    """The posterior probability of the likeliest answer among ``values``.

    ``space`` is the number of different answers the question allows (``K``);
    ``accuracies`` go with ``values``, None where unknown.
    """
    if not values:
        return 0.0
    given = {}
    for value in values:
        given.setdefault(_key(value), value)
    acc = [clipped(a, space) for a in accuracies]
    wrong = [(1 - a) / (space - 1) for a in acc]
    keys = [_key(v) for v in values]
    scores = [
        prod(a if k == candidate else w for k, a, w in zip(keys, acc, wrong, strict=True))
        for candidate in given
    ]
    unseen = max(space - len(given), 0) * prod(wrong)
    return max(scores) / (sum(scores) + unseen)
