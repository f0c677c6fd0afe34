"""The coefficients against published values and reference implementations."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from agreement import metrics

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers, 12 units, missing data. Rows are units here.
WORKED = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
).T


@pytest.mark.parametrize(
    ("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_published_worked_example(level, expected):
    assert round(metrics.krippendorff_alpha(WORKED, level), 3) == expected


def test_published_binary_example():
    # Section A of the same paper: two observers, ten units, binary data: 0.095.
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert round(metrics.krippendorff_alpha(np.array([a, b], float).T), 3) == 0.095


def _random_matrix(rng, *, complete=False):
    units = int(rng.integers(5, 40))
    coders = int(rng.integers(2, 7))
    k = int(rng.integers(2, 6))
    truth = rng.integers(1, k + 1, size=units)
    noise = rng.random((units, coders)) < rng.uniform(0.1, 0.7)
    data = np.where(noise, rng.integers(1, k + 1, size=(units, coders)), truth[:, None]).astype(
        float
    )
    if not complete:
        data[rng.random(data.shape) < rng.uniform(0, 0.4)] = NAN
    return data, k


def _ref_or_none(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = fn()
        except (ValueError, ZeroDivisionError):
            return None
    return None if value is None or not np.isfinite(value) else float(value)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_matches_krippendorff_package(level):
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(300):
        data, _ = _random_matrix(rng)
        ours = metrics.krippendorff_alpha(data, level)
        ref = _ref_or_none(
            lambda data=data: krippendorff.alpha(
                reliability_data=data.T, level_of_measurement=level
            )
        )
        if ref is None:
            assert ours is None
            continue
        assert ours == pytest.approx(ref, abs=1e-9)
        checked += 1
    assert checked > 250


def test_fleiss_matches_statsmodels():
    rng = np.random.default_rng(2)
    for _ in range(200):
        data, k = _random_matrix(rng, complete=True)
        values = np.arange(1, k + 1, dtype=float)
        counts = metrics.count_matrix(data, values)
        ours = metrics.fleiss_kappa(counts)
        ref = _ref_or_none(lambda counts=counts: sm_fleiss(counts, method="fleiss"))
        if ref is None:
            assert ours is None
        else:
            assert ours == pytest.approx(ref, abs=1e-9)


def test_fleiss_is_null_for_unequal_designs():
    assert metrics.fleiss_kappa(metrics.count_matrix(WORKED, np.arange(1, 6.0))) is None


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_cohen_matches_sklearn_over_the_declared_scale(level):
    rng = np.random.default_rng(3)
    for _ in range(200):
        data, k = _random_matrix(rng)
        values = np.arange(1, k + 2, dtype=float)  # one more point than can occur
        ours, matrix = metrics.cohen_kappa_pairs(data, level, values)
        refs = []
        for a in range(data.shape[1]):
            for b in range(a + 1, data.shape[1]):
                both = ~np.isnan(data[:, a]) & ~np.isnan(data[:, b])
                if both.sum() < 2:
                    continue
                ref = _ref_or_none(
                    lambda a=a, b=b, both=both, data=data, values=values: cohen_kappa_score(
                        data[both, a],
                        data[both, b],
                        labels=values,
                        weights="quadratic" if level == "ordinal" else None,
                    )
                )
                if ref is not None:
                    refs.append(ref)
                    assert matrix[a, b] == pytest.approx(ref, abs=1e-9)
        if refs:
            assert ours == pytest.approx(np.mean(refs), abs=1e-9)
        else:
            assert ours is None


@pytest.mark.parametrize(("level", "weights"), [("nominal", "identity"), ("ordinal", "quadratic")])
def test_gwet_matches_irrcac(level, weights):
    rng = np.random.default_rng(4)
    checked = 0
    for _ in range(150):
        data, k = _random_matrix(rng)
        values = np.arange(1, k + 1, dtype=float)
        counts = metrics.count_matrix(data, values)
        if (counts.sum(axis=1) >= 2).sum() == 0:
            continue
        ours = metrics.gwet_ac(counts, level, values)
        frame = pd.DataFrame(data)
        ref = _ref_or_none(
            lambda frame=frame, values=values: CAC(
                frame, weights=weights, categories=list(values), digits=12
            ).gwet()["est"]["coefficient_value"]
        )
        if ref is None:
            continue
        assert ours == pytest.approx(ref, abs=1e-9)
        checked += 1
    assert checked > 100


def test_undefined_cases_are_null_not_errors():
    same = np.array([[2.0, 2.0], [2.0, 2.0], [2.0, NAN]])
    lone = np.array([[1.0, NAN], [NAN, 2.0]])
    empty = np.full((3, 2), NAN)
    for data in (same, lone, empty):
        for level in ("nominal", "ordinal", "interval"):
            result = metrics.reliability(
                data, level, scale=[1, 2, 3] if level != "nominal" else None
            )
            assert result["krippendorff_alpha"] is None
            assert result["alpha_ci"] is None
    assert metrics.reliability(same, "nominal")["percent_agreement"] == 1.0
    assert metrics.reliability(lone, "nominal")["percent_agreement"] is None


def test_bootstrap_interval_brackets_alpha_and_narrows_with_more_data():
    rng = np.random.default_rng(5)
    truth = rng.integers(1, 4, size=2000)
    noise = rng.random((2000, 3)) < 0.3
    data = np.where(noise, rng.integers(1, 4, size=(2000, 3)), truth[:, None]).astype(float)
    big = metrics.reliability(data, "nominal")
    small = metrics.reliability(data[:60], "nominal")
    lo, hi = big["alpha_ci"]
    assert lo < big["krippendorff_alpha"] < hi
    assert (hi - lo) < (small["alpha_ci"][1] - small["alpha_ci"][0])
    # The worked example: the interval contains the published alpha.
    values = np.arange(1, 6.0)
    ci = metrics.alpha_bootstrap_ci(metrics.count_matrix(WORKED, values), "nominal", values)
    assert ci[0] < 0.743 < ci[1]


def test_text_similarity():
    assert metrics.token_f1("The cat sat", "the cat sat") == 1.0
    assert metrics.token_f1("a b", "c d") == 0.0
    assert metrics.token_f1("a b c d", "a b") == pytest.approx(2 / 3)
    assert metrics.text_unit_agreement(["x"]) is None
    assert metrics.masi_distance({"a"}, {"a"}) == 0.0
    assert metrics.masi_distance({"a"}, {"a", "b"}) == pytest.approx(1 - 0.5 * 2 / 3)


def _long_answers(rng, *, units, coders, k, per_unit):
    """(unit, coder, code) triples: ``per_unit`` distinct coders per unit, sorted by unit."""
    picked = np.argsort(rng.random((units, coders)), axis=1)[:, :per_unit]
    unit = np.repeat(np.arange(units), per_unit)
    coder = np.sort(picked, axis=1).ravel()
    code = rng.integers(0, k, size=len(unit))
    keep = rng.random(len(unit)) > 0.2  # some answers missing
    return unit[keep], coder[keep], code[keep]


@pytest.mark.parametrize("per_unit", [3, 20])  # few answers per unit, and more than 16
def test_joint_tables_count_every_pair_of_answers(per_unit):
    rng = np.random.default_rng(9)
    coders, k = 25, 3
    units, coder, code = _long_answers(rng, units=200, coders=coders, k=k, per_unit=per_unit)
    expected = {}
    for u in np.unique(units):
        at = np.flatnonzero(units == u)
        for i in at:
            for j in at:
                if coder[i] < coder[j]:
                    table = expected.setdefault(coder[i] * coders + coder[j], np.zeros((k, k)))
                    table[code[i], code[j]] += 1
    pairs, joint = metrics.joint_tables(units, coder, code, n_coders=coders, k=k)
    assert sorted(pairs.tolist()) == sorted(expected)
    for pair, table in zip(pairs, joint, strict=True):
        assert np.array_equal(table, expected[pair])


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_coefficients_over_count_patterns_match_the_full_count_matrix(level):
    rng = np.random.default_rng(10)
    for _ in range(30):
        k = int(rng.integers(2, 6))
        per_unit = int(rng.integers(2, 5))
        units, coder, code = _long_answers(rng, units=300, coders=6, k=k, per_unit=per_unit)
        values = np.arange(1, k + 1, dtype=float)
        answers = values[code]
        counts = np.bincount(units * k + code, minlength=300 * k).reshape(300, k).astype(float)
        result = metrics.reliability_long(
            units, coder, answers, n_units=300, n_coders=6, level=level, scale=values
        )
        rows, weights = metrics.count_patterns(units, code, 300, k)
        assert len(rows) < 300
        assert weights.sum() == (counts.sum(axis=1) > 0).sum()
        assert result["items"] == (counts.sum(axis=1) >= 2).sum()
        expected = {
            "krippendorff_alpha": metrics.alpha_from_counts(counts, level, values),
            "fleiss_kappa": metrics.fleiss_kappa(counts),
            "gwet_ac": metrics.gwet_ac(counts, level, values),
            "percent_agreement": metrics.percent_agreement(counts, level, values),
            "weighted_agreement": metrics.weighted_agreement(counts, level, values),
            "alpha_ci": metrics.alpha_bootstrap_ci(counts, level, values, samples=200),
        }
        result["alpha_ci"] = metrics.alpha_bootstrap_ci(
            rows, level, values, samples=200, weights=weights
        )
        for name, value in expected.items():
            if value is None:
                assert result[name] is None, name
            else:
                assert result[name] == pytest.approx(value, abs=1e-12), name


def test_categories_include_answers_off_the_scale():
    values, codes = metrics.categories_codes(np.array([1.0, 3.0, 7.0, 2.0]), [1, 2, 3])
    assert values.tolist() == [1.0, 2.0, 3.0, 7.0]
    assert codes.tolist() == [0, 2, 3, 1]
    values, codes = metrics.categories_codes(np.array([-1.0, 0.0, 1.0]), [-1, 0, 1])
    assert values.tolist() == [-1.0, 0.0, 1.0]
    assert codes.tolist() == [0, 1, 2]


def test_percent_agreement_counts_exact_matches_and_the_weighted_one_is_named_apart():
    # Two raters on a 1-5 scale: one exact match in three pairs, two near misses.
    units = np.array([0, 0, 1, 1, 2, 2])
    coders = np.array([0, 1, 0, 1, 0, 1])
    answers = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 5.0])
    result = metrics.reliability_long(
        units, coders, answers, n_units=3, n_coders=2, level="ordinal",
        scale=[1, 2, 3, 4, 5], bootstrap=0,
    )  # fmt: skip
    assert result["percent_agreement"] == pytest.approx(1 / 3)
    assert result["weighted_agreement"] == pytest.approx((1 + 2 * (1 - 1 / 16)) / 3)
    nominal = metrics.reliability_long(
        units, coders, answers, n_units=3, n_coders=2, level="nominal", bootstrap=0
    )
    assert nominal["percent_agreement"] == pytest.approx(1 / 3)
    assert nominal["weighted_agreement"] is None
