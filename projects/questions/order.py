"""The order a task's responses are shown in, per annotator (against position bias).

An order is a list of canonical response indices, first shown first: ``[1, 0]``
shows ``responses[1]`` as "A". Answers are always stored in the canonical order
of ``task.data.responses``; each question type maps what its widget posts back
with :meth:`~.base.QuestionType.canonical` (docs/labeling.md).
"""

from __future__ import annotations

import hashlib
import random


def response_order(
    task_id: int, annotator_id: int, n_responses: int, *, pair_first: bool = False
) -> list[int]:
    """A permutation of ``range(n_responses)``, the same for every call with the same ids.

    ``pair_first`` keeps responses 0 and 1 (the pair a preference compares) in
    the first two places, in either order, and shuffles the rest behind them:
    the letters A and B then name the pair whatever else the task holds.
    """
    digest = hashlib.sha256(f"{task_id}:{annotator_id}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    if pair_first and n_responses > 2:
        pair, rest = [0, 1], list(range(2, n_responses))
        rng.shuffle(pair)
        rng.shuffle(rest)
        return pair + rest
    order = list(range(n_responses))
    rng.shuffle(order)
    return order


def pair_swapped(order: list[int] | None) -> bool:
    """Whether responses 0 and 1 (a preference's A and B) are shown the other way round."""
    if not order or 0 not in order or 1 not in order:
        return False
    return order.index(1) < order.index(0)


def shown_position(order: list[int] | None, index: int) -> int:
    """Where canonical response ``index`` is shown (itself when shown as stored)."""
    if order and index in order:
        return order.index(index)
    return index
