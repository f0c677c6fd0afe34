"""Agreement coefficients on a reliability matrix.

The reliability matrix has one row per unit (task, or task x option / task x
response for multilabel and ranking questions) and one column per coder
(annotator); a missing answer is NaN. Every coefficient works from the unit x
category count matrix ``N`` (``N[u, c]`` = how many coders put unit ``u`` in
category ``c``), so nothing loops over annotations.

A coefficient that the data cannot define (fewer than two pairable answers, no
variation at all, a design the coefficient does not allow) is ``None``, never
a made-up number. See docs/agreement.md for the formulas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from projects.questions import text as text_question

LEVELS = ("nominal", "ordinal", "interval")


# --- the count matrix -------------------------------------------------------


def category_values(data: np.ndarray, scale: Sequence[float] | None = None) -> np.ndarray:
    """The sorted categories: the declared ``scale`` joined with what occurs."""
    seen = np.unique(data[~np.isnan(data)])
    if scale is not None and len(scale):
        seen = np.union1d(np.asarray(scale, dtype=float), seen)
    return seen


def count_matrix(data: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``N[u, c]``: the number of coders that gave unit ``u`` the value ``values[c]``."""
    data = np.asarray(data, dtype=float)
    n_units, _ = data.shape
    k = len(values)
    present = ~np.isnan(data)
    units = np.nonzero(present)[0]
    codes = np.searchsorted(values, data[present])
    flat = np.bincount(units * k + codes, minlength=n_units * k)
    return flat.reshape(n_units, k).astype(float)


def _delta(level: str, values: np.ndarray, marginals: np.ndarray) -> np.ndarray:
    """The squared difference function of Krippendorff (2011) for the level."""
    k = len(values)
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "interval":
        v = np.asarray(values, dtype=float)
        return (v[:, None] - v[None, :]) ** 2
    if level == "ordinal":
        # delta(c, k) = (sum_{g=c..k} n_g - (n_c + n_k) / 2) ** 2, on ranks.
        cum = np.concatenate([[0.0], np.cumsum(marginals)])
        lo = np.minimum.outer(np.arange(k), np.arange(k))
        hi = np.maximum.outer(np.arange(k), np.arange(k))
        between = cum[hi + 1] - cum[lo]
        return (between - (marginals[:, None] + marginals[None, :]) / 2.0) ** 2
    raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")


def count_patterns(
    units: np.ndarray, codes: np.ndarray, n_units: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the count matrix ``N`` and how many units have each.

    Units with no answer are left out. Every count-based coefficient is a sum
    over units of a function of the unit's row, so it can be computed over the
    few distinct rows, each weighted by its number of units: with a handful of
    categories and answers per unit there are only a few dozen, whatever the
    number of units. A row is identified by ``sum(base ** code)`` over its
    answers (base = the most answers to a unit, plus one), which needs no
    ``units x categories`` matrix.
    """
    if not len(units):
        return np.zeros((0, k)), np.zeros(0)
    m = np.bincount(units, minlength=n_units)
    base = int(m.max()) + 1
    if float(base) ** k < 2.0**52:  # every key, and every partial sum, is exact in float64
        powers = float(base) ** np.arange(k)
        key = np.bincount(units, weights=powers[codes], minlength=n_units)
        return _rows_of_keys(key[m > 0].astype(np.int64), base, k)
    counts = np.bincount(units * k + codes, minlength=n_units * k).reshape(n_units, k)
    rows, weight = np.unique(counts[m > 0], axis=0, return_counts=True)
    return rows.astype(float), weight.astype(float)


def distinct_rows(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``count_patterns`` for a count matrix already built (rows of integers)."""
    counts = np.asarray(counts)
    counts = counts[counts.sum(axis=1) > 0].astype(np.int64)
    k = counts.shape[1]
    if not len(counts):
        return np.zeros((0, k)), np.zeros(0)
    base = int(counts.max()) + 1
    if float(base) ** k < 2.0**62:
        key = np.zeros(len(counts), dtype=np.int64)
        for c in range(k - 1, -1, -1):
            key = key * base + counts[:, c]
        return _rows_of_keys(key, base, k)
    rows, weight = np.unique(counts, axis=0, return_counts=True)
    return rows.astype(float), weight.astype(float)


def _rows_of_keys(key: np.ndarray, base: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (digit c in ``base`` = the count of category c) as rows, with counts."""
    if base**k <= 4 * len(key) + 1024:
        seen = np.bincount(key, minlength=base**k)
        distinct = np.flatnonzero(seen)
        weight = seen[distinct]
    else:
        distinct, weight = np.unique(key, return_counts=True)
    rows = np.empty((len(distinct), k))
    for c in range(k):
        distinct, rows[:, c] = np.divmod(distinct, base)
    return rows, weight.astype(float)


def _weights(counts: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    return np.ones(len(counts)) if weights is None else np.asarray(weights, dtype=float)


def coincidences(counts: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The coincidence matrix ``o[c, k]`` over pairable units (two or more values).

    ``weights``: how many units each row of ``counts`` stands for (default 1).
    """
    w = _weights(counts, weights)
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts, m, w = counts[pairable], m[pairable], w[pairable]
    if not len(counts):
        return np.zeros((counts.shape[1], counts.shape[1]))
    weight = counts * (w / (m - 1.0))[:, None]
    return counts.T @ weight - np.diag(weight.sum(axis=0))


# --- Krippendorff's alpha ---------------------------------------------------


def _alpha_parts(counts: np.ndarray, level: str, values: np.ndarray, weights=None):
    o = coincidences(counts, weights)
    marg = o.sum(axis=1)
    n = marg.sum()
    if n < 2:
        return None
    delta = _delta(level, values, marg)
    d_o = float((o * delta).sum()) / n
    d_e = float(marg @ delta @ marg) / (n * (n - 1.0))
    if d_e <= 1e-12:
        return None
    return d_o, d_e, n, delta


def alpha_from_counts(
    counts: np.ndarray, level: str, values: np.ndarray, weights: np.ndarray | None = None
) -> float | None:
    parts = _alpha_parts(counts, level, values, weights)
    if parts is None:
        return None
    d_o, d_e, _, _ = parts
    return 1.0 - d_o / d_e


def krippendorff_alpha(
    data: np.ndarray, level: str = "nominal", scale: Sequence[float] | None = None
) -> float | None:
    """Krippendorff's alpha of a units x coders matrix (NaN = missing)."""
    data = np.asarray(data, dtype=float)
    values = category_values(data, scale)
    if len(values) == 0:
        return None
    return alpha_from_counts(count_matrix(data, values), level, values)


def alpha_bootstrap_ci(
    counts: np.ndarray,
    level: str,
    values: np.ndarray,
    *,
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> list[float] | None:
    """Percentile interval of alpha by Hayes & Krippendorff's (2007) bootstrap.

    The expected disagreement stays fixed; the M pairs of values within units
    are resampled with replacement, pair j contributing
    ``2 * delta_j / ((m_u - 1) * n * D_e)`` to the observed part. Pairs with
    the same (delta, m_u) contribute the same amount, so a bootstrap sample is
    a multinomial draw over those few groups, not over every pair: cheap for
    any number of units. Samples below -1 are clipped to -1 as in KALPHA.
    """
    parts = _alpha_parts(counts, level, values, weights)
    if parts is None:
        return None
    _, d_e, n, delta = parts
    unit_weights = _weights(counts, weights)
    m = counts.sum(axis=1)
    contrib: list[np.ndarray] = []
    weight: list[np.ndarray] = []
    iu = np.triu_indices(len(values), 1)
    sizes = np.bincount(m.astype(np.int64))
    for mu in np.nonzero(sizes)[0]:
        if mu < 2:
            continue
        group, times = counts[m == mu], unit_weights[m == mu][:, None]
        cross = ((group * times).T @ group)[iu]  # pairs of different categories in a unit
        same = (times * group * (group - 1) / 2.0).sum()  # pairs with delta 0
        contrib.append(np.concatenate([2.0 * delta[iu] / ((mu - 1.0) * n * d_e), [0.0]]))
        weight.append(np.concatenate([cross, [same]]))
    e = np.concatenate(contrib)
    w = np.concatenate(weight)
    keep = w > 0
    e, w = e[keep], w[keep]
    total = round(w.sum())
    if total < 1:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(total, w / w.sum(), size=samples)
    alphas = np.maximum(1.0 - draws @ e, -1.0)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(alphas, [tail, 1.0 - tail])
    return [float(lo), float(hi)]


# --- kappas, percent agreement, Gwet -----------------------------------------


def fleiss_kappa(counts: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Fleiss' kappa; only defined when every rated unit has the same number of ratings."""
    w = _weights(counts, weights)
    m = counts.sum(axis=1)
    rated, w = counts[m > 0], w[m > 0]
    if w.sum() < 2:
        return None
    r = rated.sum(axis=1)
    if not np.all(r == r[0]) or r[0] < 2:
        return None
    r0 = r[0]
    p_i = ((rated * rated).sum(axis=1) - r0) / (r0 * (r0 - 1.0))
    p_j = w @ rated / (w @ r)
    p_e = float((p_j * p_j).sum())
    if p_e >= 1.0 - 1e-12:
        return None
    return (float(w @ p_i / w.sum()) - p_e) / (1.0 - p_e)


def agreement_weights(level: str, values: np.ndarray) -> np.ndarray:
    """Agreement weights: identity for nominal, quadratic over the scale otherwise."""
    k = len(values)
    if level == "nominal" or k < 2:
        return np.eye(k)
    v = np.asarray(values, dtype=float)
    span = v.max() - v.min()
    return 1.0 - (v[:, None] - v[None, :]) ** 2 / span**2


def within_unit_pairs(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), i < j in sorted order, of entries that share a unit.

    Sorting by unit puts a unit's entries side by side, so the pairs are the
    entries ``d`` apart with the same unit, for d = 1 .. (largest unit - 1).
    """
    index = np.int32 if len(units) < 2**31 else np.int64
    if len(units) < 2 or np.all(units[1:] >= units[:-1]):
        order = np.arange(len(units), dtype=index)  # already grouped: skip the sort
    else:
        order = np.argsort(units, kind="stable").astype(index)
    sorted_units = units[order]
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    d = 1
    while d < len(order):
        same = np.nonzero(sorted_units[:-d] == sorted_units[d:])[0]
        if not len(same):
            break
        left.append(order[same])
        right.append(order[same + d])
        d += 1
    if not left:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate(left), np.concatenate(right)


def joint_tables(
    units: np.ndarray, coders: np.ndarray, codes: np.ndarray, *, n_coders: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """For every two coders ``a < b`` who share a unit: how often ``a`` gave ``x`` and ``b`` ``y``.

    Returns ``(pairs, joint)``: pair codes ``a * n_coders + b`` and the ``k x k``
    tables. With ``X`` the units x (coder, category) indicator matrix, this is
    ``X.T @ X``. For a small pool it is counted straight into the dense
    (coder, category) x (coder, category) matrix from the answers ``d`` apart
    in unit order, d = 1 .. (largest unit - 1); otherwise one sparse product.
    Neither lists the pairs of answers.
    """
    if not len(units):
        return np.zeros(0, dtype=np.int64), np.zeros((0, k, k))
    column = coders.astype(np.int64) * k + codes
    width = n_coders * k
    if width * width <= 4_000_000 and np.bincount(units).max() <= 16:
        if not np.all(units[1:] >= units[:-1]):
            order = np.argsort(units, kind="stable")
            units, column = units[order], column[order]
        full = np.zeros(width * width)
        for d in range(1, len(units)):
            same = np.flatnonzero(units[:-d] == units[d:])
            if not len(same):
                break
            full += np.bincount(column[same] * width + column[same + d], minlength=width * width)
        full = full.reshape(width, width)
        full += full.T  # an answer pair in either order
        blocks = full.reshape(n_coders, k, n_coders, k).transpose(0, 2, 1, 3)
        a, b = np.triu_indices(n_coders, 1)
        joint = blocks[a, b]
        shared = joint.sum(axis=(1, 2)) > 0
        return (a * n_coders + b)[shared], joint[shared]
    x = sparse.csr_matrix(
        (np.ones(len(units)), (units, column)), shape=(int(units.max()) + 1, width)
    )
    tables = (x.T @ x).tocoo()
    a, ca = np.divmod(tables.row.astype(np.int64), k)
    b, cb = np.divmod(tables.col.astype(np.int64), k)
    keep = a < b
    a, b, ca, cb = a[keep], b[keep], ca[keep], cb[keep]
    pairs, pair_idx = np.unique(a * n_coders + b, return_inverse=True)
    joint = np.bincount(
        pair_idx * k * k + ca * k + cb, weights=tables.data[keep], minlength=len(pairs) * k * k
    )
    return pairs, joint.reshape(len(pairs), k, k)


def cohen_kappa_long(
    units: np.ndarray,
    coders: np.ndarray,
    codes: np.ndarray,
    *,
    n_coders: int,
    level: str,
    values: np.ndarray,
    tables: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float | None, np.ndarray]:
    """Mean pairwise Cohen's kappa from (unit, coder, category code) triples.

    All coder pairs at once, from ``joint_tables`` (pass ``tables`` when they
    are already computed).
    """
    k = len(values)
    w = agreement_weights(level, values)
    matrix = np.full((n_coders, n_coders), np.nan)
    if tables is None:
        tables = joint_tables(units, coders, codes, n_coders=n_coders, k=k)
    pair_ids, joint = tables
    if not len(pair_ids):
        return None, matrix
    joint = joint.copy()
    totals = joint.sum(axis=(1, 2))
    joint /= totals[:, None, None]
    expected = joint.sum(axis=2)[:, :, None] * joint.sum(axis=1)[:, None, :]
    p_o = (joint * w).sum(axis=(1, 2))
    p_e = (expected * w).sum(axis=(1, 2))
    ok = (totals >= 2) & (p_e < 1.0 - 1e-12)
    kappa = (p_o[ok] - p_e[ok]) / (1.0 - p_e[ok])
    rows, cols = pair_ids[ok] // n_coders, pair_ids[ok] % n_coders
    matrix[rows, cols] = kappa
    matrix[cols, rows] = kappa
    return (float(kappa.mean()) if len(kappa) else None), matrix


def cohen_kappa_pairs(
    data: np.ndarray, level: str, values: np.ndarray
) -> tuple[float | None, np.ndarray]:
    """Mean pairwise Cohen's kappa and the coder x coder matrix (NaN where undefined).

    Quadratic-weighted for ordinal and interval data, with the weights over
    ``values`` (the declared scale), unweighted for nominal data. A pair needs
    two shared units and some expected disagreement.
    """
    data = np.asarray(data, dtype=float)
    units, coders = np.nonzero(~np.isnan(data))
    codes = np.searchsorted(values, data[units, coders])
    return cohen_kappa_long(
        units, coders, codes, n_coders=data.shape[1], level=level, values=values
    )


def percent_agreement(
    counts: np.ndarray,
    level: str = "nominal",
    values: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> float | None:
    """Mean over pairable units of the share of coder pairs that agree exactly.

    Exact for every level, as percent agreement means everywhere (irr, irrCAC,
    Prodigy); ``weighted_agreement`` is the quadratic-weighted variant.
    """
    return _pair_agreement(counts, weights, None)


def weighted_agreement(
    counts: np.ndarray, level: str, values: np.ndarray, weights: np.ndarray | None = None
) -> float | None:
    """Like percent agreement, but an ordinal or interval pair counts ``1 - (a-b)²/span²``;
    None for nominal questions, where it would equal percent agreement."""
    if level == "nominal":
        return None
    return _pair_agreement(counts, weights, agreement_weights(level, values))


def _pair_agreement(counts, weights, w) -> float | None:
    units = _weights(counts, weights)
    m = counts.sum(axis=1)
    pairable, units = counts[m >= 2], units[m >= 2]
    if not len(pairable):
        return None
    mp = pairable.sum(axis=1)
    weighted = pairable if w is None else pairable @ w
    agree = (weighted * pairable).sum(axis=1) - mp
    return float(units @ (agree / (mp * (mp - 1.0))) / units.sum())


def gwet_ac(
    counts: np.ndarray, level: str, values: np.ndarray, weights: np.ndarray | None = None
) -> float | None:
    """Gwet's AC1 (nominal, identity weights) or AC2 (quadratic weights), Gwet (2014)."""
    units = _weights(counts, weights)
    r = counts.sum(axis=1)
    rated, units = counts[r > 0], units[r > 0]
    r = r[r > 0]
    q = counts.shape[1]
    two = r >= 2
    if not two.any() or q < 2:
        return None
    w = agreement_weights(level, values)
    weighted = rated if level == "nominal" else rated @ w.T  # identity weights: no product
    p_unit = (rated * (weighted - 1.0)).sum(axis=1)[two] / (r[two] * (r[two] - 1.0))
    p_a = float(units[two] @ p_unit / units[two].sum())
    pi = units @ (rated / r[:, None]) / units.sum()
    p_e = float(w.sum() * (pi * (1.0 - pi)).sum() / (q * (q - 1.0)))
    if p_e >= 1.0 - 1e-12:
        return None
    return (p_a - p_e) / (1.0 - p_e)


def _categories(answers: np.ndarray, scale: Sequence[float] | None) -> np.ndarray:
    """The declared scale plus any value outside it (sorting only those, if any)."""
    return categories_codes(answers, scale)[0]


def categories_codes(
    answers: np.ndarray, scale: Sequence[float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The categories (``_categories``) and each answer's index among them."""
    if scale is None or not len(scale):
        values, codes = np.unique(answers, return_inverse=True)
        return values, codes.reshape(-1)
    scale = np.asarray(scale, dtype=float)
    if len(scale) > 1 and np.all(np.diff(scale) == 1.0):
        # Consecutive integers (the usual scale): the code is the offset, no search.
        offset = answers - scale[0]
        at = offset.astype(np.int64)
        if np.all((at == offset) & (at >= 0) & (at < len(scale))):
            return scale, at
    at = np.searchsorted(scale, answers)
    inside = scale[np.minimum(at, len(scale) - 1)] == answers
    if inside.all():
        return scale, at
    values = np.union1d(scale, answers[~inside])
    return values, np.searchsorted(values, answers)


def reliability(
    data: np.ndarray,
    level: str,
    *,
    scale: Sequence[float] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict:
    """Every coefficient of one question's units x coders matrix (NaN = missing)."""
    data = np.asarray(data, dtype=float)
    units, coders = np.nonzero(~np.isnan(data))
    return reliability_long(
        units,
        coders,
        data[units, coders],
        n_units=data.shape[0],
        n_coders=data.shape[1],
        level=level,
        scale=scale,
        bootstrap=bootstrap,
        seed=seed,
    )


def empty_figures(level: str, *, annotations: int, items: int = 0) -> dict:
    """The per-question figures of the API, all undefined (null) until computed."""
    return {
        "level": level,
        "krippendorff_alpha": None,
        "alpha_ci": None,
        "fleiss_kappa": None,
        "cohen_kappa": None,
        "gwet_ac": None,
        "percent_agreement": None,
        "weighted_agreement": None,
        "items": items,
        "annotations": annotations,
    }


def reliability_long(
    units: np.ndarray,
    coders: np.ndarray,
    answers: np.ndarray,
    *,
    n_units: int,
    n_coders: int,
    level: str,
    scale: Sequence[float] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    tables: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Every coefficient from (unit, coder, value) triples, with the counts they rest on.

    ``tables``: the coders' ``joint_tables`` over these categories, when already computed.
    """
    values, codes = categories_codes(answers, scale)
    result = empty_figures(level, annotations=len(answers))
    if len(values) == 0:
        return result
    k = len(values)
    counts, weights = count_patterns(units, codes, n_units, k)
    result["items"] = int(weights[counts.sum(axis=1) >= 2].sum())
    result["krippendorff_alpha"] = alpha_from_counts(counts, level, values, weights)
    if result["krippendorff_alpha"] is not None and bootstrap:
        result["alpha_ci"] = alpha_bootstrap_ci(
            counts, level, values, samples=bootstrap, seed=seed, weights=weights
        )
    result["fleiss_kappa"] = fleiss_kappa(counts, weights)  # categories taken as nominal
    result["cohen_kappa"], _ = cohen_kappa_long(
        units, coders, codes, n_coders=n_coders, level=level, values=values, tables=tables
    )
    result["gwet_ac"] = gwet_ac(counts, level, values, weights)
    result["percent_agreement"] = percent_agreement(counts, level, values, weights)
    result["weighted_agreement"] = weighted_agreement(counts, level, values, weights)
    return result


# --- free text ----------------------------------------------------------------

# One token F1 for the submit-time rule and the snapshot, so the two never disagree.
token_f1 = text_question.token_f1


def text_unit_agreement(texts: Sequence[str]) -> float | None:
    """Mean pairwise token F1 of the answers to one unit; None below two answers."""
    if len(texts) < 2:
        return None
    scores = [
        token_f1(texts[i], texts[j]) for i in range(len(texts)) for j in range(i + 1, len(texts))
    ]
    return float(np.mean(scores))


def masi_distance(a: set, b: set) -> float:
    """Passonneau's MASI distance between two label sets (1 - Jaccard x monotonicity)."""
    if not a and not b:
        return 0.0
    inter, union = len(a & b), len(a | b)
    jaccard = inter / union
    if a == b:
        mono = 1.0
    elif a <= b or b <= a:
        mono = 2 / 3
    elif inter:
        mono = 1 / 3
    else:
        mono = 0.0
    return 1.0 - jaccard * mono
