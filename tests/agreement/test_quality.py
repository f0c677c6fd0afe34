"""Per-annotator quality on its own: leave-one-out ties, the quality number."""

from __future__ import annotations

import numpy as np
import pytest

from agreement.encoding import encoder_for, tally
from agreement.quality import leave_one_out, quality_score


def test_leave_one_out_shares_credit_when_the_others_tie():
    encoder = encoder_for({"name": "t", "type": "label", "options": ["a", "b", "c"]})
    # One unit, answers a, a, b: without the b, the others agree on a.
    enc = encoder.encode(np.array([0.0, 0.0, 1.0]), np.array([0, 0, 0]), 1)
    agree, has_others = leave_one_out(enc, tally(enc, 1), 1)
    # Without one a, the others are {a, b}: a ties with b, so half a point.
    np.testing.assert_array_equal(agree, [0.5, 0.5, 0.0])
    assert has_others.all()


def test_gold_counts_twice_as_much_as_peers_and_skips_lower_the_score():
    assert quality_score(
        agreement=0.4,
        gold_accuracy=1.0,
        skip_rate=None,
        median_seconds=None,
        project_median_seconds=None,
    ) == pytest.approx(0.8)
    assert quality_score(
        agreement=1.0,
        gold_accuracy=None,
        skip_rate=0.5,
        median_seconds=None,
        project_median_seconds=None,
    ) == pytest.approx(0.75)
