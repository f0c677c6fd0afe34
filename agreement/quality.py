"""Per-annotator figures: agreement with peers (leave-one-out), gold accuracy,
speed, skip rate, the pairwise matrix, and the one quality number.
"""

from __future__ import annotations

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Case, Count, Q, Value, When

from agreement.encoding import Encoded, Encoder, Tally, pair_scores
from labeling.models import Assignment
from projects.models import Membership, Project

GOLD_WEIGHT = 2.0  # a gold answer is direct evidence; agreement with peers is indirect
SKIP_PENALTY = 0.5
FAST_FRACTION = 0.25  # faster than a quarter of the project's median time looks careless


def quality_score(
    *,
    agreement: float | None,
    gold_accuracy: float | None,
    skip_rate: float | None,
    median_seconds: float | None,
    project_median_seconds: float | None,
) -> float | None:
    """One number in 0..1 per annotator; see docs/agreement.md for the formula."""
    parts = []
    if gold_accuracy is not None:
        parts.append((gold_accuracy, GOLD_WEIGHT))
    if agreement is not None:
        parts.append((agreement, 1.0))
    if not parts:
        return None
    score = sum(v * w for v, w in parts) / sum(w for _, w in parts)
    if skip_rate:
        score *= 1.0 - SKIP_PENALTY * skip_rate
    if median_seconds is not None and project_median_seconds:
        floor = FAST_FRACTION * project_median_seconds
        if median_seconds < floor:
            score *= median_seconds / floor
    return round(max(0.0, min(1.0, score)), 4)


def leave_one_out(enc: Encoded, counted: Tally, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Each answer's score against the others' consensus on its unit, and whether there are others.

    Nominal: 1 if the answer is the others' majority (1/t when t categories tie
    for it); otherwise ``1 - |x - mean(others)| / span``.
    """
    others = counted.total[enc.units] - 1
    has_others = others > 0
    if enc.level == "nominal" and counted.counts is not None:
        # Taking the answer out leaves it the others' majority only if it was the
        # unit's one most frequent category; it then ties with every category
        # one answer behind.
        counts = counted.counts
        top = counts.max(axis=0)
        unique_top = (counts == top).sum(axis=0) == 1
        behind = (counts == top - 1).sum(axis=0)
        score = np.where(unique_top, 1.0 / (1.0 + behind), 0.0)
        agree = np.where(counted.codes == counts.argmax(axis=0)[enc.units], score[enc.units], 0.0)
    elif enc.level == "nominal":
        k = len(counted.cats)
        vc = counted.codes
        counts = np.bincount(enc.units * k + vc, minlength=n_units * k).reshape(n_units, k)
        rest = counts[enc.units]
        rest[np.arange(len(vc)), vc] -= 1
        top = rest.max(axis=1)
        agree = (rest[np.arange(len(vc)), vc] == top) / np.maximum(
            (rest == top[:, None]).sum(axis=1), 1
        )
    else:
        sums = np.bincount(enc.units, weights=enc.values, minlength=n_units)
        rest_mean = (sums[enc.units] - enc.values) / np.maximum(others, 1)
        agree = 1.0 - np.abs(enc.values - rest_mean) / enc.span
    return agree, has_others


def gold_units(encoder: Encoder, gold: dict, task_ids: np.ndarray, gold_pos: dict):
    """Encode the gold answers of one question the same way as the annotations."""
    name = encoder.name
    tasks = [t for t in gold_pos if isinstance(gold.get(t), dict) and name in gold[t]]
    if not tasks:
        return np.zeros(0, dtype=int), np.zeros(0)
    raw = np.empty(len(tasks), dtype=object)
    raw[:] = [encoder.from_value(gold[t][name]) for t in tasks]
    idx = np.array([gold_pos[t] for t in tasks])
    genc = encoder.encode(raw, idx, len(task_ids))
    if genc is None:
        return np.zeros(0, dtype=int), np.zeros(0)
    return genc.units, genc.values


class AnnotatorTotals:
    """Per annotator sums over the questions: leave-one-out, gold, and pairs of annotators."""

    def __init__(self, n_coders: int):
        self.n_coders = n_coders
        self.loo_sum = np.zeros(n_coders)
        self.loo_n = np.zeros(n_coders)
        self.gold_sum = np.zeros(n_coders)
        self.gold_n = np.zeros(n_coders)
        self.pair_sum = np.zeros((n_coders, n_coders))
        self.pair_n = np.zeros((n_coders, n_coders))

    def add_pairs(self, enc: Encoded, counted: Tally, tables) -> None:
        """Who answered what alongside whom (``metrics.joint_tables``): the pair scores."""
        pairs, joint = tables
        k = len(counted.cats)
        if enc.level == "nominal":
            score = np.eye(k)
        else:
            score = 1.0 - np.abs(counted.cats[:, None] - counted.cats[None, :]) / enc.span
        first, second = np.divmod(pairs, self.n_coders)
        self.pair_sum[first, second] += (joint * score).sum(axis=(1, 2))
        self.pair_n[first, second] += joint.sum(axis=(1, 2))

    def add_leave_one_out(self, enc: Encoded, coders: np.ndarray, counted: Tally) -> None:
        """Each answer against the others' consensus on its unit."""
        n_coders = self.n_coders
        loo, has_others = leave_one_out(enc, counted, len(enc.unit_task))
        self.loo_sum += np.bincount(coders[has_others], weights=loo[has_others], minlength=n_coders)
        self.loo_n += np.bincount(coders[has_others], minlength=n_coders)

    def add_gold(
        self, encoder: Encoder, enc: Encoded, coders: np.ndarray, gold, task_ids, gold_pos
    ):
        """Each answer on a gold task against the gold answer."""
        units, values = gold_units(encoder, gold, task_ids, gold_pos)
        if not len(units):
            return
        lookup = np.full(len(enc.unit_task), np.nan)
        lookup[units] = values
        g = lookup[enc.units]
        ok = ~np.isnan(g)
        gscore = pair_scores(enc, enc.values[ok], g[ok])
        self.gold_sum += np.bincount(coders[ok], weights=gscore, minlength=self.n_coders)
        self.gold_n += np.bincount(coders[ok], minlength=self.n_coders)

    def pairwise(self, coder_ids: np.ndarray) -> dict:
        """The symmetric mean pair score matrix and the pair counts, for the heatmap."""
        sym_n = self.pair_n + self.pair_n.T
        sym = np.where(sym_n > 0, (self.pair_sum + self.pair_sum.T) / np.maximum(sym_n, 1), np.nan)
        return {
            "annotator_ids": [int(c) for c in coder_ids],
            "agreement": [
                [None if np.isnan(x) else round(float(x), 4) for x in row] for row in sym
            ],
            "pairs": [[int(x) for x in row] for row in sym_n],
        }


def median_by_group(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of the values of each group, ignoring NaN; NaN for a group without values."""
    keep = ~np.isnan(values)
    groups, values = groups[keep], values[keep]
    values = values[np.argsort(groups, kind="stable")]
    counts = np.bincount(groups, minlength=n_groups)
    ends = np.cumsum(counts)
    out = np.full(n_groups, np.nan)
    for g in np.flatnonzero(counts):
        out[g] = np.median(values[ends[g] - counts[g] : ends[g]])
    return out


def annotator_rows(project: Project, coder_ids: np.ndarray) -> tuple[dict, dict]:
    """Usernames and skip counts of the project's annotators."""
    users = dict(
        get_user_model()
        .objects.filter(id__in=[int(c) for c in coder_ids])
        .values_list("id", "username")
    )
    skips = {
        row["annotator_id"]: row
        for row in Assignment.objects.filter(project=project)
        .values("annotator_id")
        .annotate(
            skipped=Count("id", filter=Q(state=Assignment.State.SKIPPED)),
            done=Count(
                "id", filter=Q(state__in=[Assignment.State.SKIPPED, Assignment.State.SUBMITTED])
            ),
        )
    }
    return users, skips


GOLD_MIN = 5  # gold answers before gold accuracy alone estimates an annotator's accuracy


def accuracy_estimates(rows: list[dict], questions: dict) -> dict[int, float]:
    """Each annotator's estimated share of right answers, from a snapshot's figures.

    Their gold accuracy once they answered ``GOLD_MIN`` gold tasks; else the
    mean of their Dawid-Skene accuracies over the questions that have them;
    else their agreement with the others' consensus (leave-one-out).
    """
    skene: dict[int, list[float]] = {}
    for stats in questions.values():
        for row in (stats.get("dawid_skene") or {}).get("accuracy", []):
            skene.setdefault(row["annotator_id"], []).append(row["accuracy"])
    out = {}
    for row in rows:
        uid = row["annotator_id"]
        if row["gold_accuracy"] is not None and row["gold_answers"] >= GOLD_MIN:
            out[uid] = row["gold_accuracy"]
        elif uid in skene:
            out[uid] = round(sum(skene[uid]) / len(skene[uid]), 4)
        elif row["agreement"] is not None:
            out[uid] = row["agreement"]
    return out


def accuracies_store(project: Project, rows: list[dict], questions: dict) -> None:
    """Keep each member's estimated accuracy (what ``stop_confidence`` weighs answers by)."""
    found = accuracy_estimates(rows, questions)
    for row in rows:
        row["accuracy"] = found.get(row["annotator_id"])
    if not found:
        return
    Membership.objects.filter(project=project, user_id__in=found).update(
        accuracy=Case(*(When(user_id=uid, then=Value(a)) for uid, a in found.items()))
    )


def annotators(*, coder_ids, coder_idx, lead, totals: AnnotatorTotals, users, skips) -> list[dict]:
    """One row per annotator, best quality first."""
    loo = (totals.loo_sum, totals.loo_n)
    gold = (totals.gold_sum, totals.gold_n)
    n_coders = len(coder_ids)
    medians = median_by_group(coder_idx, lead, n_coders) if n_coders else np.zeros(0)
    project_median = float(np.nanmedian(lead)) if (~np.isnan(lead)).any() else None
    answered = np.bincount(coder_idx, minlength=n_coders)
    out = []
    for c in range(n_coders):
        uid = int(coder_ids[c])
        agreement = float(loo[0][c] / loo[1][c]) if loo[1][c] else None
        gold_acc = float(gold[0][c] / gold[1][c]) if gold[1][c] else None
        median = None if np.isnan(medians[c]) else float(medians[c])
        s = skips.get(uid)
        skip_rate = (s["skipped"] / s["done"]) if s and s["done"] else None
        out.append(
            {
                "annotator_id": uid,
                "username": users.get(uid, ""),
                "agreement": None if agreement is None else round(agreement, 4),
                "gold_accuracy": None if gold_acc is None else round(gold_acc, 4),
                "median_seconds": None if median is None else round(median, 2),
                "skip_rate": None if skip_rate is None else round(skip_rate, 4),
                "quality": quality_score(
                    agreement=agreement,
                    gold_accuracy=gold_acc,
                    skip_rate=skip_rate,
                    median_seconds=median,
                    project_median_seconds=project_median,
                ),
                "annotations": int(answered[c]),
                "gold_answers": int(gold[1][c]),
            }
        )
    out.sort(key=lambda a: (a["quality"] is None, -(a["quality"] or 0)))
    return out
