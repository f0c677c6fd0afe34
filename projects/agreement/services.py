"""The agreement snapshot: every coefficient per question, consensus and agreement
per task, quality per annotator, written in a handful of queries.

Answers are loaded with one query (one text column per question, extracted by
PostgreSQL), turned into long NumPy arrays (unit, coder, value) per question,
and every figure is computed from those arrays. Per-task results go back with
one ``UPDATE ... FROM unnest(...)``.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field

import numpy as np
import orjson
import pandas as pd
import psycopg
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from projects.agreement import metrics
from projects.agreement.dawid_skene import dawid_skene
from projects.models import AgreementSnapshot, Annotation, Assignment, Project, Task
from projects.schema import preference_score, question_level

BOOTSTRAP_SAMPLES = 1000
LOWEST_TASKS = 20
GOLD_WEIGHT = 2.0  # a gold answer is direct evidence; agreement with peers is indirect
SKIP_PENALTY = 0.5
FAST_FRACTION = 0.25  # faster than a quarter of the project's median time looks careless


@dataclass
class Encoded:
    """One question's answers in long form.

    ``units`` index ``unit_task`` (a unit is a task, or a task x option / task x
    response for multilabel and ranking questions); ``rows`` index the loaded
    annotations so results can be mapped back to annotators.
    """

    rows: np.ndarray
    units: np.ndarray
    values: np.ndarray
    unit_task: np.ndarray
    level: str
    scale: np.ndarray
    span: float
    labels: list = field(default_factory=list)  # category names for nominal codes


# --- encoding answers as numbers --------------------------------------------


def _parse(raw: str | None):
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _select_sql(question: dict) -> tuple[str, list]:
    """SQL that reads one question's answer as a number, so Python never parses JSON.

    label: index into options; rating: the number; preference: the score
    -3..3 of ``preference_score``; multilabel: a bit mask over options;
    ranking and text: the text.
    """
    name = question["name"]
    qtype = question["type"]
    if qtype == "label":
        return "array_position(%s::text[], values->>%s) - 1", [list(question["options"]), name]
    if qtype == "rating":
        return (
            "CASE WHEN jsonb_typeof(values->%s) = 'number' THEN (values->>%s)::float8 END",
            [name, name],
        )
    if qtype == "preference":
        return (
            """CASE jsonb_typeof(values->%s)
                 WHEN 'string' THEN CASE values->>%s WHEN 'A' THEN -1 WHEN 'B' THEN 1
                                                      WHEN 'tie' THEN 0 END
                 WHEN 'object' THEN CASE values->%s->>'choice'
                     WHEN 'tie' THEN 0
                     WHEN 'A' THEN -coalesce(nullif((values->%s->>'strength')::int, 0), 1)
                     WHEN 'B' THEN coalesce(nullif((values->%s->>'strength')::int, 0), 1) END
               END""",
            [name] * 5,
        )
    if qtype == "multilabel" and len(question.get("options", [])) <= 62:
        bits = " + ".join(
            f"((values->%s) ? %s)::int::bigint * {1 << i}" for i in range(len(question["options"]))
        )
        params = [p for option in question["options"] for p in (name, option)]
        return f"CASE WHEN jsonb_typeof(values->%s) = 'array' THEN {bits} END", [name, *params]
    return "values->>%s", [name]


def _raw_from_value(question: dict, value):
    """The same numeric form as ``_select_sql``, for a gold answer held in Python."""
    qtype = question["type"]
    if value is None:
        return None
    if qtype == "label":
        options = list(question["options"])
        return options.index(value) if value in options else None
    if qtype == "rating":
        return float(value) if isinstance(value, int | float) else None
    if qtype == "preference":
        return preference_score(value)
    if qtype == "multilabel" and len(question.get("options", [])) <= 62:
        options = list(question["options"])
        return sum(1 << options.index(o) for o in value if o in options)
    return value if isinstance(value, str) else json.dumps(value)


def _numbers(raw: np.ndarray) -> np.ndarray:
    return np.array([np.nan if r is None else r for r in raw], dtype=float)


def _encode(question: dict, raw: np.ndarray, task_idx: np.ndarray, n_tasks: int) -> Encoded | None:
    """Turn one question's loaded answers into (unit, value) arrays; text questions give None."""
    qtype = question["type"]
    level = question_level(question)
    if qtype == "text":
        return None
    if qtype in ("label", "rating", "preference") or (
        qtype == "multilabel" and len(question.get("options", [])) <= 62
    ):
        numbers = raw if raw.dtype == float else _numbers(raw)
        rows = np.nonzero(~np.isnan(numbers))[0]
        answers = numbers[rows]
    else:
        present = np.array([r is not None and r != "" for r in raw], dtype=bool)
        rows = np.nonzero(present)[0]
        answers = raw[present]
    if qtype == "label":
        options = list(question.get("options", []))
        return Encoded(
            rows,
            task_idx[rows],
            answers,
            np.arange(n_tasks),
            "nominal",
            np.arange(len(options), dtype=float),
            1.0,
            options,
        )
    if qtype == "rating":
        lo, hi = int(question.get("min", 1)), int(question.get("max", 5))
        return Encoded(
            rows,
            task_idx[rows],
            answers,
            np.arange(n_tasks),
            level,
            np.arange(lo, hi + 1, dtype=float),
            float(max(hi - lo, 1)),
        )
    if qtype == "preference":
        top = 3 if question.get("strength") else 1
        return Encoded(
            rows,
            task_idx[rows],
            answers,
            np.arange(n_tasks),
            "ordinal",
            np.arange(-top, top + 1, dtype=float),
            float(2 * top),
        )
    if qtype == "multilabel":
        # Per-option binary: unit (task, option), value 1 if the option was chosen.
        options = list(question.get("options", []))
        k = len(options)
        if len(options) <= 62:
            masks = answers.astype(np.int64)
            chosen = ((masks[:, None] >> np.arange(k)) & 1).astype(float)
        else:
            lookup = {o: i for i, o in enumerate(options)}
            chosen = np.zeros((len(answers), k))
            for n, answer in enumerate(answers):
                for option in _parse(answer) or []:
                    if option in lookup:
                        chosen[n, lookup[option]] = 1.0
        # Order the entries by unit (task, option) so pairing needs no sort:
        # rows come sorted by task, so a stable sort on the unit is enough.
        r = np.repeat(rows, k)
        units = task_idx[r] * k + np.tile(np.arange(k), len(rows))
        order = np.argsort(units, kind="stable")
        return Encoded(
            r[order],
            units[order],
            chosen.ravel()[order],
            np.repeat(np.arange(n_tasks), k),
            "nominal",
            np.array([0.0, 1.0]),
            1.0,
            options,
        )
    if qtype == "ranking":
        # Per response: unit (task, response), value = its position (0 = best).
        orders = [_parse(a) or [] for a in answers]
        width = max((len(o) for o in orders), default=0)
        if width == 0:
            return None
        position = np.full((len(orders), width), np.nan)
        for n, order in enumerate(orders):
            for rank, response in enumerate(order):
                if isinstance(response, int) and 0 <= response < width:
                    position[n, response] = rank
        flat = position.ravel()
        keep = ~np.isnan(flat)
        r = np.repeat(rows, width)[keep]
        units = (task_idx[np.repeat(rows, width)] * width + np.tile(np.arange(width), len(rows)))[
            keep
        ]
        return Encoded(
            r,
            units,
            flat[keep],
            np.repeat(np.arange(n_tasks), width),
            "ordinal",
            np.arange(width, dtype=float),
            float(max(width - 1, 1)),
        )
    return None


def _pair_scores(enc: Encoded, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Agreement of two answers in 0..1: equality when nominal, 1 - |a-b|/span otherwise."""
    if enc.level == "nominal":
        return (a == b).astype(float)
    return 1.0 - np.abs(a - b) / enc.span


# --- consensus ----------------------------------------------------------------


def _group_median(units: np.ndarray, values: np.ndarray, n_units: int):
    """Per unit: lower and upper median (equal when the count is odd); NaN if unanswered."""
    order = np.lexsort((values, units))
    u, v = units[order], values[order]
    counts = np.bincount(u, minlength=n_units)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    lower = np.full(n_units, np.nan)
    upper = np.full(n_units, np.nan)
    has = counts > 0
    lower[has] = v[starts[has] + (counts[has] - 1) // 2]
    upper[has] = v[starts[has] + counts[has] // 2]
    return lower, upper


def _consensus(question: dict, enc: Encoded, ds_choice: np.ndarray | None, n_units: int):
    """Per unit consensus value (as numbers) and a tie flag, vectorised by type."""
    qtype = question["type"]
    units, values = enc.units, enc.values
    answered = np.bincount(units, minlength=n_units) > 0
    if enc.level == "nominal" and qtype == "label":
        k = len(enc.scale)
        counts = np.bincount(units * k + values.astype(int), minlength=n_units * k)
        counts = counts.reshape(n_units, k)
        top = counts.max(axis=1, keepdims=True)
        tied = ((counts == top).sum(axis=1) > 1) & answered
        choice = counts.argmax(axis=1).astype(float)
        if ds_choice is not None:
            choice = np.where(tied, ds_choice, choice)
        return np.where(answered, choice, np.nan), tied
    if qtype == "multilabel":
        total = np.bincount(units, minlength=n_units)
        yes = np.bincount(units, weights=values, minlength=n_units)
        tied = answered & (2 * yes == total)
        return np.where(answered, (2 * yes > total).astype(float), np.nan), tied
    if enc.level == "interval":
        total = np.bincount(units, minlength=n_units)
        sums = np.bincount(units, weights=values, minlength=n_units)
        return np.where(answered, sums / np.maximum(total, 1), np.nan), np.zeros(n_units, bool)
    if qtype == "ranking":
        total = np.bincount(units, minlength=n_units)
        sums = np.bincount(units, weights=values, minlength=n_units)
        return np.where(answered, sums / np.maximum(total, 1), np.nan), np.zeros(n_units, bool)
    lower, upper = _group_median(units, values, n_units)
    tied = answered & (lower != upper)
    choice = lower
    if ds_choice is not None:
        choice = np.where(tied, ds_choice, lower)
    return choice, tied


def _lookup(table: list, codes: np.ndarray) -> list:
    """``table[code]`` for every code, ``None`` where the code is -1 (no answer)."""
    objects = np.empty(len(table) + 1, dtype=object)
    objects[:-1] = table
    objects[-1] = None
    return objects[codes].tolist()


def _consensus_json(question: dict, enc: Encoded, choice: np.ndarray, tied: np.ndarray, n_tasks):
    """Per task: the consensus answer in the question's answer shape (None if none).

    Categorical answers go through a lookup table indexed by code, so no
    Python runs per task for labels, ratings, preferences and small multilabels.
    """
    qtype = question["type"]
    missing = np.isnan(choice)
    if qtype == "multilabel":
        width = len(enc.labels)
        grid = choice.reshape(n_tasks, width)
        tie_tasks = tied.reshape(n_tasks, width).any(axis=1)
        answered = ~np.isnan(grid).all(axis=1)
        if width <= 12:
            masks = (np.nan_to_num(grid) == 1.0).astype(np.int64) @ (1 << np.arange(width))
            table = [[enc.labels[i] for i in range(width) if m >> i & 1] for m in range(1 << width)]
            return _lookup(table, np.where(answered, masks, -1)), tie_tasks
        out: list = [None] * n_tasks
        for t in np.nonzero(answered)[0]:
            out[t] = [enc.labels[i] for i in range(width) if grid[t, i] == 1.0]
        return out, tie_tasks
    if qtype == "ranking":
        width = len(enc.unit_task) // max(n_tasks, 1)
        grid = choice.reshape(n_tasks, width)
        tie_tasks = tied.reshape(n_tasks, width).any(axis=1)
        out = [None] * n_tasks
        for t in np.nonzero(~np.isnan(grid).all(axis=1))[0]:
            row = grid[t]
            seen = ~np.isnan(row)
            means = row[seen]
            order = np.nonzero(seen)[0][np.argsort(means, kind="stable")]
            out[t] = [int(i) for i in order]
            if len(np.unique(means)) < len(means):
                tie_tasks[t] = True
        return out, tie_tasks
    if qtype == "label":
        codes = np.where(missing, -1, np.nan_to_num(choice)).astype(np.int64)
        return _lookup(list(enc.labels), codes), tied
    if qtype == "preference" or (qtype == "rating" and enc.level != "interval"):
        lo = int(enc.scale[0])
        if qtype == "preference":
            strength = bool(question.get("strength"))

            def shape(v: int):
                side = "tie" if v == 0 else ("A" if v < 0 else "B")
                return {"choice": side, "strength": abs(v)} if strength else side

            table = [shape(int(v)) for v in enc.scale]
        else:
            table = [int(v) for v in enc.scale]
        codes = np.where(missing, -1, np.nan_to_num(choice) - lo).astype(np.int64)
        if codes.max(initial=-1) < len(table) and codes.min(initial=0) >= -1:
            return _lookup(table, codes), tied
    if qtype == "rating" and enc.level != "interval":
        # Answers off the declared scale (the scale was edited): plain numbers.
        return [None if np.isnan(v) else int(v) for v in choice], tied
    values = np.round(choice, 4)
    return [None if m else float(v) for m, v in zip(missing, values, strict=True)], tied


# --- the snapshot ---------------------------------------------------------------


def _load(project: Project):
    """All of the project's answers in one query: one column per question."""
    exprs, params = [], []
    for question in project.questions:
        sql, p = _select_sql(question)
        exprs.append(sql)
        params.extend(p)
    columns = "".join(f", {e} AS q{i}" for i, e in enumerate(exprs))
    numeric = [_is_numeric(q) for q in project.questions]
    connection.ensure_connection()
    # COPY ... TO STDOUT as CSV, parsed by pandas' C reader: a million rows
    # never become Python tuples. Rows come in task order.
    sql = (
        f"SELECT task_id, annotator_id, lead_time_s{columns} "
        f"FROM {Annotation._meta.db_table} WHERE project_id = %s ORDER BY task_id"
    )
    buffer = io.BytesIO()
    with psycopg.ClientCursor(connection.connection) as cursor:
        query = cursor.mogrify(sql, [*params, project.id])
        with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
    buffer.seek(0)
    names = ["task", "annotator", "lead"] + [f"q{i}" for i in range(len(numeric))]
    dtypes = {"task": np.int64, "annotator": np.int64, "lead": float}
    for i, is_num in enumerate(numeric):
        dtypes[f"q{i}"] = float if is_num else object
    if buffer.getbuffer().nbytes == 0:
        frame = pd.DataFrame({n: pd.Series(dtype=dtypes[n]) for n in names})
    else:
        frame = pd.read_csv(
            buffer, header=None, names=names, dtype=dtypes, keep_default_na=False, na_values=[""]
        )
    del buffer
    out = [frame[n].to_numpy() for n in names]
    for i, is_num in enumerate(numeric):
        if not is_num:
            column = out[3 + i]
            column[pd.isna(column)] = None
    return out


def _dense_index(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct ids in order, position of each id among them), without sorting when possible."""
    if not len(ids):
        return ids, np.zeros(0, dtype=np.int64)
    if np.all(ids[1:] >= ids[:-1]):
        starts = np.concatenate([[True], ids[1:] != ids[:-1]])
        return ids[starts], np.cumsum(starts) - 1
    if ids.min() >= 0 and ids.max() < 50_000_000:
        used = np.bincount(ids) > 0
        return np.nonzero(used)[0], (np.cumsum(used) - 1)[ids]
    return np.unique(ids, return_inverse=True)


def _is_numeric(question: dict) -> bool:
    return question["type"] in ("label", "rating", "preference") or (
        question["type"] == "multilabel" and len(question.get("options", [])) <= 62
    )


def _text_task_agreement(raw: np.ndarray, task_idx: np.ndarray, n_tasks: int):
    """Per task mean pairwise token F1 of the text answers, and the medoid answer."""
    groups: dict[int, list[str]] = {}
    for t, text in zip(task_idx.tolist(), raw.tolist(), strict=True):
        if text:
            groups.setdefault(t, []).append(text)
    agreement = np.full(n_tasks, np.nan)
    consensus: list = [None] * n_tasks
    ties = np.zeros(n_tasks, dtype=bool)
    for t, texts in groups.items():
        if len(texts) == 1:
            consensus[t] = texts[0]
            continue
        sim = np.array([[metrics.token_f1(a, b) for b in texts] for a in texts])
        mean_sim = (sim.sum(axis=1) - 1.0) / (len(texts) - 1)
        best = np.flatnonzero(mean_sim == mean_sim.max())
        consensus[t] = texts[best[0]]
        ties[t] = len(best) > 1
        agreement[t] = float(sim[np.triu_indices(len(texts), 1)].mean())
    return agreement, consensus, ties


def agreement_compute(*, project: Project, bootstrap: int = BOOTSTRAP_SAMPLES) -> dict:
    """Compute the snapshot body and the per-task results (without writing anything)."""
    started = time.perf_counter()
    loaded = _load(project)
    load_s = time.perf_counter() - started
    task_ids_raw, coder_ids_raw, lead = loaded[:3]
    raw_cols = loaded[3:]
    task_ids, task_idx = _dense_index(task_ids_raw)
    coder_ids, coder_idx = _dense_index(coder_ids_raw)
    # 32-bit positions halve the memory of every per-answer array derived from them.
    task_idx, coder_idx = task_idx.astype(np.int32), coder_idx.astype(np.int32)
    n_tasks, n_coders, n_rows = len(task_ids), len(coder_ids), len(task_ids_raw)

    gold = dict(
        Task.objects.filter(project=project, is_gold=True, gold__isnull=False).values_list(
            "id", "gold"
        )
    )
    gold_pos = {int(i): n for n, i in enumerate(task_ids) if int(i) in gold}

    questions: dict = {}
    task_score_sum = np.zeros(n_tasks)
    task_score_n = np.zeros(n_tasks)
    consensus_cols: dict[str, list] = {}
    tie_cols: dict[str, np.ndarray] = {}
    loo_sum = np.zeros(n_coders)
    loo_n = np.zeros(n_coders)
    gold_sum = np.zeros(n_coders)
    gold_n = np.zeros(n_coders)
    pair_sum = np.zeros((n_coders, n_coders))
    pair_n = np.zeros((n_coders, n_coders))

    for qi, question in enumerate(project.questions):
        name = question["name"]
        raw = raw_cols[qi]
        if question["type"] == "text":
            agreement, consensus, ties = _text_task_agreement(raw, task_idx, n_tasks)
            defined = ~np.isnan(agreement)
            task_score_sum[defined] += agreement[defined]
            task_score_n[defined] += 1
            answered = int(sum(1 for r in raw if r))
            questions[name] = {
                **metrics.empty_figures("text", annotations=answered, items=int(defined.sum())),
                "similarity": "token_f1",
                "mean_similarity": float(agreement[defined].mean()) if defined.any() else None,
            }
            consensus_cols[name] = consensus
            tie_cols[name] = ties
            continue
        enc = _encode(question, raw, task_idx, n_tasks)
        if enc is None:
            continue
        n_units = len(enc.unit_task)
        coders = coder_idx[enc.rows]
        stats = metrics.reliability_long(
            enc.units,
            coders,
            enc.values,
            n_units=n_units,
            n_coders=n_coders,
            level=enc.level,
            scale=enc.scale,
            bootstrap=bootstrap,
        )
        stats["annotations"] = int(np.count_nonzero(np.bincount(enc.rows, minlength=n_rows)))

        # Dawid-Skene for label and rating questions: competence-weighted truth.
        ds_choice = None
        if question["type"] in ("label", "rating") and len(enc.units):
            codes = np.searchsorted(enc.scale, enc.values)
            ds = dawid_skene(
                enc.units,
                coders,
                codes,
                n_units=n_units,
                n_coders=n_coders,
                n_categories=len(enc.scale),
            )
            ds_choice = enc.scale[ds.posterior.argmax(axis=1)]
            if question["type"] == "label":
                ds_choice = ds.posterior.argmax(axis=1).astype(float)
            answered_by = np.bincount(coders, minlength=n_coders) > 0
            stats["dawid_skene"] = {
                "iterations": ds.iterations,
                "accuracy": [
                    {"annotator_id": int(coder_ids[c]), "accuracy": round(float(ds.accuracy[c]), 4)}
                    for c in np.nonzero(answered_by)[0]
                ],
            }

        # Distribution of answers (label/rating/preference/multilabel).
        if question["type"] in ("label", "rating", "preference"):
            counts = np.bincount(
                np.searchsorted(enc.scale, enc.values), minlength=len(enc.scale)
            ).tolist()
            keys = enc.labels or [str(int(v)) for v in enc.scale]
            # A list, not an object: JSONB would reorder the keys.
            stats["distribution"] = [
                {"value": key, "count": count} for key, count in zip(keys, counts, strict=True)
            ]
        elif question["type"] == "multilabel":
            k = len(enc.labels)
            chosen = np.bincount(enc.units % k, weights=enc.values, minlength=k)
            stats["distribution"] = [
                {"value": o, "count": int(c)} for o, c in zip(enc.labels, chosen, strict=True)
            ]
            per_option = {}
            for o, label in enumerate(enc.labels):
                mask = enc.units % k == o
                per_option[label] = metrics.alpha_long(
                    enc.units[mask] // k,
                    enc.values[mask],
                    n_units=n_tasks,
                    level="nominal",
                    scale=[0.0, 1.0],
                )
            stats["per_option_alpha"] = per_option
        questions[name] = stats

        # Pairwise agreement: per unit, per task, per annotator pair.
        i, j = metrics.within_unit_pairs(enc.units)
        scores = _pair_scores(enc, enc.values[i], enc.values[j])
        unit_sum = np.bincount(enc.units[i], weights=scores, minlength=n_units)
        unit_n = np.bincount(enc.units[i], minlength=n_units)
        t_of_unit = enc.unit_task
        t_sum = np.bincount(
            t_of_unit,
            weights=np.where(unit_n > 0, unit_sum / np.maximum(unit_n, 1), 0),
            minlength=n_tasks,
        )
        t_n = np.bincount(t_of_unit, weights=(unit_n > 0).astype(float), minlength=n_tasks)
        defined = t_n > 0
        task_score_sum[defined] += t_sum[defined] / t_n[defined]
        task_score_n[defined] += 1
        ca, cb = coders[i], coders[j]
        pair_code = ca * n_coders + cb
        size = n_coders * n_coders
        pair_sum += np.bincount(pair_code, weights=scores, minlength=size).reshape(pair_sum.shape)
        pair_n += np.bincount(pair_code, minlength=size).reshape(pair_n.shape)

        # Leave-one-out: each answer against the others' consensus on its unit.
        total = np.bincount(enc.units, minlength=n_units)
        others = total[enc.units] - 1
        has_others = others > 0
        if enc.level == "nominal":
            k = len(enc.scale)
            vc = enc.values.astype(int)
            counts = np.bincount(enc.units * k + vc, minlength=n_units * k).reshape(n_units, k)
            rest = counts[enc.units].astype(float)
            rest[np.arange(len(vc)), vc] -= 1
            top = rest.max(axis=1)
            agree = (rest[np.arange(len(vc)), vc] == top) / np.maximum(
                (rest == top[:, None]).sum(axis=1), 1
            )
        else:
            sums = np.bincount(enc.units, weights=enc.values, minlength=n_units)
            rest_mean = (sums[enc.units] - enc.values) / np.maximum(others, 1)
            agree = 1.0 - np.abs(enc.values - rest_mean) / enc.span
        loo_sum += np.bincount(coders[has_others], weights=agree[has_others], minlength=n_coders)
        loo_n += np.bincount(coders[has_others], minlength=n_coders)

        # Gold: each answer on a gold task against the gold answer.
        if gold_pos:
            gold_units, gold_vals = _gold_units(question, gold, task_ids, gold_pos, enc)
            if len(gold_units):
                lookup = np.full(n_units, np.nan)
                lookup[gold_units] = gold_vals
                g = lookup[enc.units]
                ok = ~np.isnan(g)
                gscore = _pair_scores(enc, enc.values[ok], g[ok])
                gold_sum += np.bincount(coders[ok], weights=gscore, minlength=n_coders)
                gold_n += np.bincount(coders[ok], minlength=n_coders)

        choice, tied = _consensus(question, enc, ds_choice, n_units)
        consensus_cols[name], tie_cols[name] = _consensus_json(question, enc, choice, tied, n_tasks)

    task_agreement = np.where(
        task_score_n > 0, task_score_sum / np.maximum(task_score_n, 1), np.nan
    )
    # A task with a single answer has no agreement, whatever the per-question bookkeeping.
    answers_per_task = np.bincount(task_idx, minlength=n_tasks)
    task_agreement[answers_per_task < 2] = np.nan

    consensus_json = []
    for t in range(n_tasks):
        entry = {name: consensus_cols[name][t] for name in consensus_cols}
        tied_names = [name for name in tie_cols if tie_cols[name][t]]
        if tied_names:
            entry["_ties"] = tied_names
        consensus_json.append(entry)

    annotators = _annotators(
        project,
        coder_ids=coder_ids,
        coder_idx=coder_idx,
        lead=lead,
        loo=(loo_sum, loo_n),
        gold=(gold_sum, gold_n),
    )
    sym_n = pair_n + pair_n.T
    sym = np.where(sym_n > 0, (pair_sum + pair_sum.T) / np.maximum(sym_n, 1), np.nan)
    lowest = np.argsort(np.where(np.isnan(task_agreement), np.inf, task_agreement))[:LOWEST_TASKS]
    lowest = [int(t) for t in lowest if not np.isnan(task_agreement[t])]
    external = dict(
        Task.objects.filter(id__in=[int(task_ids[t]) for t in lowest]).values_list(
            "id", "external_id"
        )
    )
    body = {
        "questions": questions,
        "annotators": annotators,
        "pairwise": {
            "annotator_ids": [int(c) for c in coder_ids],
            "agreement": [
                [None if np.isnan(x) else round(float(x), 4) for x in row] for row in sym
            ],
            "pairs": [[int(x) for x in row] for row in sym_n],
        },
        "lowest_tasks": [
            {
                "task_id": int(task_ids[t]),
                "external_id": external.get(int(task_ids[t]), ""),
                "agreement": round(float(task_agreement[t]), 4),
            }
            for t in lowest
        ],
        "tasks": n_tasks,
        "annotations": n_rows,
        "timings": {
            "load_s": round(load_s, 3),
            "compute_s": round(time.perf_counter() - started - load_s, 3),
        },
    }
    return {
        "body": body,
        "task_ids": task_ids,
        "task_agreement": task_agreement,
        "consensus": consensus_json,
    }


def _gold_units(question, gold, task_ids, gold_pos, enc: Encoded):
    """Encode the gold answers of one question the same way as the annotations."""
    name = question["name"]
    tasks = [t for t in gold_pos if isinstance(gold.get(t), dict) and name in gold[t]]
    if not tasks:
        return np.zeros(0, dtype=int), np.zeros(0)
    raw = np.empty(len(tasks), dtype=object)
    raw[:] = [_raw_from_value(question, gold[t][name]) for t in tasks]
    idx = np.array([gold_pos[t] for t in tasks])
    genc = _encode(question, raw, idx, len(task_ids))
    if genc is None:
        return np.zeros(0, dtype=int), np.zeros(0)
    return genc.units, genc.values


def _median_by_group(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    keep = ~np.isnan(values)
    lower, upper = _group_median(groups[keep], values[keep], n_groups)
    return (lower + upper) / 2.0


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


def _annotators(project, *, coder_ids, coder_idx, lead, loo, gold) -> list[dict]:
    n_coders = len(coder_ids)
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
    medians = _median_by_group(coder_idx, lead, n_coders) if n_coders else np.zeros(0)
    project_median = float(np.nanmedian(lead)) if (~np.isnan(lead)).any() else None
    annotations = np.bincount(coder_idx, minlength=n_coders)
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
                "annotations": int(annotations[c]),
                "gold_answers": int(gold[1][c]),
            }
        )
    out.sort(key=lambda a: (a["quality"] is None, -(a["quality"] or 0)))
    return out


def _tasks_write(project: Project, task_ids, task_agreement, consensus) -> None:
    """Write agreement, consensus and state for every task in one statement."""
    if not len(task_ids):
        return
    agreement = [None if np.isnan(a) else float(a) for a in task_agreement]
    docs = [orjson.dumps(c).decode() for c in consensus]
    threshold = float(project.agreement_threshold)
    connection.ensure_connection()
    # A plain psycopg cursor binds server side, and %b sends the arrays in binary:
    # no client-side quoting of hundreds of thousands of JSON strings.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"""
            UPDATE {Task._meta.db_table} AS t
               SET agreement = v.agreement,
                   consensus = v.consensus::jsonb,
                   state = CASE
                       WHEN t.state = 'complete' AND v.agreement < %b THEN 'disputed'
                       WHEN t.state = 'disputed' AND v.agreement >= %b THEN 'complete'
                       ELSE t.state END
              FROM unnest(%b::bigint[], %b::float8[], %b::text[]) AS v(id, agreement, consensus)
             WHERE t.id = v.id AND t.project_id = %b
               AND (t.agreement IS DISTINCT FROM v.agreement
                    OR t.consensus IS DISTINCT FROM v.consensus::jsonb
                    OR (t.state = 'complete' AND v.agreement < %b)
                    OR (t.state = 'disputed' AND v.agreement >= %b))
            """,
            [
                threshold,
                threshold,
                task_ids.tolist(),
                agreement,
                docs,
                project.id,
                threshold,
                threshold,
            ],
        )


def agreement_snapshot_create(*, project_id: int, bootstrap: int = BOOTSTRAP_SAMPLES):
    """Recompute the project's agreement and store a snapshot; returns it."""
    started = time.perf_counter()
    project = Project.objects.get(pk=project_id)
    result = agreement_compute(project=project, bootstrap=bootstrap)
    now = timezone.now()
    body = result["body"]
    body["computed_at"] = now.isoformat()
    write_started = time.perf_counter()
    with transaction.atomic():
        _tasks_write(project, result["task_ids"], result["task_agreement"], result["consensus"])
        body["timings"]["write_s"] = round(time.perf_counter() - write_started, 3)
        snapshot = AgreementSnapshot.objects.create(
            project=project,
            computed_at=now,
            duration_s=time.perf_counter() - started,
            data=body,
        )
    return snapshot


def agreement_latest(*, project: Project) -> AgreementSnapshot | None:
    return AgreementSnapshot.objects.filter(project=project).order_by("-computed_at", "-id").first()
