"""Per-task results: agreement (mean pair score), consensus and ties.

Works on what ``agreement.encoding`` produced; the consensus rule and the
answer shape come from the question's encoder, so nothing here looks at a
question's type.
"""

from __future__ import annotations

import numpy as np
import orjson

from agreement import metrics
from agreement.encoding import (
    MAJORITY,
    MEAN,
    OPTION_MAJORITY,
    Encoded,
    Tally,
    pair_scores,
    parse,
    unique_ints,
)
from projects import questions as question_types
from projects.schema import answer_text

LOWEST_TASKS = 20


def unit_pair_means(enc: Encoded, counted: Tally, n_units: int):
    """Per unit: the mean pair score over its pairs of answers, and whether it has a pair.

    From the counts when there are few categories: equal pairs are
    ``sum_c n_c (n_c - 1) / 2``, and the distances add up to
    ``sum_{c<d} n_c n_d |v_c - v_d|``; no pair of answers is listed.
    """
    m = counted.total
    pairs = m * (m - 1) / 2.0
    if counted.counts is not None:
        n = counted.counts
        if enc.level == "nominal":
            score_sum = sum(row * (row - 1) for row in n) / 2.0
        else:
            distance = np.zeros(n_units)
            for c in range(len(n)):
                for d in range(c + 1, len(n)):
                    distance += (n[c] * n[d]) * abs(counted.cats[d] - counted.cats[c])
            score_sum = pairs - distance / enc.span
    else:
        i, j = metrics.within_unit_pairs(enc.units)
        scores = pair_scores(enc, enc.values[i], enc.values[j])
        score_sum = np.bincount(enc.units[i], weights=scores, minlength=n_units)
    has = pairs > 0
    return np.where(has, score_sum / np.maximum(pairs, 1.0), 0.0), has


def group_median(units: np.ndarray, values: np.ndarray, n_units: int, counted: Tally | None = None):
    """Per unit: lower and upper median (equal when the count is odd); NaN if unanswered."""
    lower = np.full(n_units, np.nan)
    upper = np.full(n_units, np.nan)
    total = np.bincount(units, minlength=n_units) if counted is None else counted.total
    has = total > 0
    if counted is not None and counted.counts is not None:
        # The i-th smallest answer of a unit is the first category whose
        # cumulative count exceeds i: no sort.
        cum = counted.counts.cumsum(axis=0)
        lower[has] = counted.cats[(cum <= (total - 1) // 2).sum(axis=0)[has]]
        upper[has] = counted.cats[(cum <= total // 2).sum(axis=0)[has]]
        return lower, upper
    order = np.lexsort((values, units))
    v = values[order]
    starts = np.concatenate([[0], np.cumsum(total)[:-1]])
    lower[has] = v[starts[has] + (total[has] - 1) // 2]
    upper[has] = v[starts[has] + total[has] // 2]
    return lower, upper


def consensus(rule: str, enc: Encoded, counted: Tally, ds_choice: np.ndarray | None, n_units: int):
    """Per unit consensus value (as numbers) and a tie flag, by the encoder's rule.

    ``ds_choice`` (Dawid-Skene's choice per unit) breaks ties of the majority
    and of the median.
    """
    units, values = enc.units, enc.values
    total = counted.total
    answered = total > 0
    if rule == MAJORITY:
        counts = counted.counts
        if counts is None:
            k = len(counted.cats)
            counts = np.bincount(counted.codes * n_units + units, minlength=k * n_units)
            counts = counts.reshape(k, n_units)
        top = counts.max(axis=0)
        tied = ((counts == top).sum(axis=0) > 1) & answered
        choice = counts.argmax(axis=0).astype(float)
        if ds_choice is not None:
            choice = np.where(tied, ds_choice, choice)
        return np.where(answered, choice, np.nan), tied
    if rule == OPTION_MAJORITY:
        yes = counted.counts[1]
        tied = answered & (2 * yes == total)
        return np.where(answered, (2 * yes > total).astype(float), np.nan), tied
    if rule == MEAN:
        sums = np.bincount(units, weights=values, minlength=n_units)
        return np.where(answered, sums / np.maximum(total, 1), np.nan), np.zeros(n_units, bool)
    lower, upper = group_median(units, values, n_units, counted)
    tied = answered & (lower != upper)
    choice = lower
    if ds_choice is not None:
        choice = np.where(tied, ds_choice, lower)
    return choice, tied


def text_agreement(raw: np.ndarray, task_idx: np.ndarray, n_tasks: int):
    """Per task mean pairwise token F1 of the text answers, the medoid answer, and ties.

    ``raw`` holds each answer as JSON. Two answers that correct different
    turns of a conversation (or one a turn, the other the next turn) do not
    agree: their similarity is 0.
    """
    groups: dict[int, list] = {}
    for t, doc in zip(task_idx.tolist(), raw.tolist(), strict=True):
        value = parse(doc)
        if answer_text(value):
            groups.setdefault(t, []).append(value)
    agreement = np.full(n_tasks, np.nan)
    medoids: list = [None] * n_tasks
    ties = np.zeros(n_tasks, dtype=bool)
    for t, values in groups.items():
        if len(values) == 1:
            medoids[t] = values[0]
            continue
        answers = [(answer_text(v), v.get("turn") if isinstance(v, dict) else None) for v in values]
        sim = np.array(
            [
                [metrics.token_f1(a, b) if turn_a == turn_b else 0.0 for b, turn_b in answers]
                for a, turn_a in answers
            ]
        )
        mean_sim = (sim.sum(axis=1) - 1.0) / (len(values) - 1)
        best = np.flatnonzero(mean_sim == mean_sim.max())
        medoids[t] = values[best[0]]
        # Equally central answers tie only when they differ: identical ones never do.
        ties[t] = len({orjson.dumps(values[i], option=orjson.OPT_SORT_KEYS) for i in best}) > 1
        agreement[t] = float(sim[np.triu_indices(len(values), 1)].mean())
    return agreement, medoids, ties


def consensus_docs(
    columns: list, n_tasks: int, single: np.ndarray | None = None
) -> tuple[np.ndarray, list[bytes]]:
    """One JSON document per distinct consensus, and each task's document number.

    ``columns`` holds ``(name, codes, table, ties)`` per question, in question
    order. A task's document is ``{name: answer, ..., "_ties": [names]}``, with
    ``"_single": true`` where ``single`` marks it: one answer where the project
    asks for several, which is that answer and no consensus of several.
    """
    digits = [codes + 1 for _, codes, _, _ in columns]  # 0 = no consensus
    radices = [len(table) + 1 for _, _, table, _ in columns]
    digits += [ties.astype(np.int64) for _, _, _, ties in columns]
    radices += [2] * len(columns)
    if single is not None and columns:
        digits.append(single.astype(np.int64))
        radices.append(2)
    if not digits:
        return np.zeros(n_tasks, dtype=np.int32), [b"{}"]
    if float(np.prod(radices, dtype=float)) < 2.0**62:
        key = np.zeros(n_tasks, dtype=np.int64)
        for d, r in zip(digits, radices, strict=True):
            key = key * r + d
        uniq, inverse = unique_ints(key) if n_tasks else (key, key)
        rows = np.empty((len(uniq), len(digits)), dtype=np.int64)
        for n in range(len(digits) - 1, -1, -1):
            uniq, rows[:, n] = np.divmod(uniq, radices[n])
    else:
        rows, inverse = np.unique(np.column_stack(digits), axis=0, return_inverse=True)
    names = [name for name, _, _, _ in columns]
    tables = [table for _, _, table, _ in columns]
    width = len(columns)
    docs = []
    for row in rows.tolist():
        entry = {
            name: (table[d - 1] if d else None)
            for name, table, d in zip(names, tables, row[:width], strict=True)
        }
        tied = [name for name, t in zip(names, row[width : 2 * width], strict=True) if t]
        if tied:
            entry["_ties"] = tied
        if len(row) > 2 * width and row[2 * width]:
            entry["_single"] = True
        docs.append(orjson.dumps(entry))
    return inverse.ravel().astype(np.int32), docs


def disputed_tasks(
    question: dict, encoder, raw: np.ndarray, task_idx: np.ndarray, n_tasks: int
) -> np.ndarray:
    """Per task: whether its answers to ``question`` disagree, by the rule a submit applies.

    The question type's ``agrees`` (more than half of the answers agree with
    one of them, under the question's ``agree``) decides; answers that load
    as numbers with an exact or a within-k-steps rule are counted with NumPy,
    every other question asks the type, task by task.
    """
    kind = question_types.question_type(question)
    n_answers = np.bincount(task_idx, minlength=n_tasks)
    keys, steps = _agree_keys(question, kind, encoder, raw)
    if keys is not None:
        best = _best_support(task_idx, keys, steps, n_tasks)
        return (n_answers >= 2) & (2 * best <= n_answers)
    out = np.zeros(n_tasks, dtype=bool)
    if not len(raw):
        return out
    values = [_python_value(encoder, r) for r in raw.tolist()]
    starts = np.flatnonzero(np.concatenate([[True], task_idx[1:] != task_idx[:-1]]))
    ends = np.append(starts[1:], len(task_idx))
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s >= 2:
            out[task_idx[s]] = not kind.agrees(question, values[s:e])
    return out


def _agree_keys(question, kind, encoder, raw):
    """(an integer key per answer, steps within which keys agree), or (None, 0) to ask the type."""
    if not encoder.numeric or raw.dtype.kind != "f":
        return None, 0
    threshold = kind.agree_threshold(question)
    name = encoder.__class__.__name__
    if kind.agree_unit == "steps":
        if not np.all(np.isnan(raw) | (raw == np.round(raw))):
            return None, 0  # off-scale or interval answers: ask the type
        return raw, int(threshold)
    if name == "Categorical":
        return raw, 0  # one option or another: any threshold means the same option
    if name == "Preference":
        # Similarity 1 for the same choice and strength, 0.5 for the same side.
        return (raw if threshold > 0.5 else np.sign(raw)), 0
    if threshold >= 1.0:
        return raw, 0  # exact: the same option, or the same set of options (bit mask)
    return None, 0


def _best_support(task_idx, keys, steps: int, n_tasks: int) -> np.ndarray:
    """Per task: the most answers that agree with one answer (keys within ``steps``)."""
    best = np.zeros(n_tasks, dtype=np.int64)
    if not len(keys):
        return best
    present = ~np.isnan(keys)
    lo = float(keys[present].min()) if present.any() else 0.0
    span = (float(keys[present].max()) - lo) if present.any() else 0.0
    if steps == 0:
        # Runs of equal (task, key) after a sort; NaN (missing) sorts last and
        # equals only itself.
        k = np.where(present, keys, np.inf)
        order = np.lexsort((k, task_idx))
        t, k = task_idx[order], k[order]
        starts = np.flatnonzero(np.concatenate([[True], (t[1:] != t[:-1]) | (k[1:] != k[:-1])]))
        counts = np.diff(np.append(starts, len(t)))
        np.maximum.at(best, t[starts], counts)
        return best
    # A missing answer agrees only with another missing one: a key beyond reach.
    k = np.where(present, keys - lo, span + steps + 1).astype(np.int64)
    stride = int(span) + 2 * steps + 2
    pair = task_idx.astype(np.int64) * stride + k
    ordered = np.sort(pair)
    within = np.searchsorted(ordered, pair + steps, "right") - np.searchsorted(
        ordered, pair - steps, "left"
    )
    np.maximum.at(best, task_idx, within)
    return best


def _python_value(encoder, raw):
    """An answer as stored, back from its loaded form (for the type's ``agrees``)."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return None
    if isinstance(raw, str):
        return parse(raw)
    options = getattr(encoder, "options", None)
    if options is not None and getattr(encoder, "bitmask", False):
        return [o for i, o in enumerate(options) if int(raw) >> i & 1]
    return raw


def lowest(task_agreement: np.ndarray) -> list[int]:
    """Positions of the tasks with the lowest agreement, lowest first."""
    order = np.argsort(np.where(np.isnan(task_agreement), np.inf, task_agreement), kind="stable")
    order = order[:LOWEST_TASKS]
    return [int(t) for t in order if not np.isnan(task_agreement[t])]
