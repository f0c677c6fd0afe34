"""The agreement snapshot: every coefficient per question, consensus and agreement
per task, quality per annotator, written in a handful of queries.

Answers are loaded with one query (one column per question, extracted by
PostgreSQL), turned into long NumPy arrays (unit, coder, value) per question,
and every figure is computed from those arrays. Per-task results go back
through two temporary tables (COPY) into the narrow TaskAgreement table, which
PostgreSQL writes while the coefficients are computed here.
"""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import orjson
import psycopg
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from agreement import metrics
from agreement.dawid_skene import dawid_skene
from agreement.models import AgreementSnapshot, TaskAgreement
from labeling.models import Assignment
from projects.models import Annotation, Project, Task
from projects.schema import answer_text, preference_score, question_level

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
    if qtype == "text":
        # The whole answer as JSON: a string, or {"text", "turn"} for a corrected turn.
        return "(values->%s)::text", [name]
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
            chosen = ((masks[:, None] >> np.arange(k)) & 1).astype(np.uint8)
        else:
            lookup = {o: i for i, o in enumerate(options)}
            chosen = np.zeros((len(answers), k), dtype=np.uint8)
            for n, answer in enumerate(answers):
                for option in _parse(answer) or []:
                    if option in lookup:
                        chosen[n, lookup[option]] = 1
        # Order the entries by unit (task, option), answers in row order within a
        # unit, so pairing needs no sort. Rows come sorted by task.
        t = task_idx[rows].astype(np.int64)
        m = np.bincount(t, minlength=n_tasks)
        index = np.int32 if n_tasks * k < 2**31 else np.int64
        per_task = int(m.max(initial=0))
        if len(rows) and np.all((m == per_task) | (m == 0)):
            # The same number of answers on every answered task (a fixed
            # overlap): a per-task transpose of answers x options.
            tasks = np.flatnonzero(m)
            shape = (len(tasks), k, per_task)
            units = np.broadcast_to(
                (tasks[:, None] * k + np.arange(k)).astype(index)[:, :, None], shape
            ).ravel()
            r = np.broadcast_to(rows.reshape(len(tasks), 1, per_task), shape).ravel()
            values = chosen.reshape(len(tasks), per_task, k).transpose(0, 2, 1).astype(float)
            values = values.ravel()
        else:
            # The entry (answer p, option o) of a task whose m answers start at
            # row f goes to f * k + o * m + (p - f): a scatter instead of a sort.
            first = np.cumsum(m) - m
            start = first[t] * (k - 1) + np.arange(len(rows))
            dest = (start[:, None] + np.arange(k) * m[t][:, None]).ravel()
            units = np.empty(len(dest), dtype=index)
            units[dest] = (t[:, None] * k + np.arange(k)).ravel()
            r = np.empty(len(dest), dtype=rows.dtype)
            r[dest] = np.repeat(rows, k)
            values = np.empty(len(dest))
            values[dest] = chosen.ravel()
            del dest
        del chosen
        return Encoded(
            r,
            units,
            values,
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


MAX_TALLY = 32  # categories up to which a question keeps its units x categories counts


@dataclass
class _Tally:
    """One question's answers counted per unit.

    ``cats`` are the categories (the declared scale plus any value outside
    it), ``codes`` each answer's index among them, ``total`` the answers per
    unit, ``counts`` the categories x units matrix (None with many
    categories), one row per category so that work across categories runs
    on contiguous rows.
    """

    cats: np.ndarray
    codes: np.ndarray | None  # None until the answers are encoded (multilabel)
    total: np.ndarray
    counts: np.ndarray | None


def _is_bitmask_multilabel(question: dict) -> bool:
    """A multilabel question loaded as bit masks (see ``_select_sql``)."""
    return question["type"] == "multilabel" and len(question.get("options", [])) <= 62


def _multilabel_outline(question: dict, n_tasks: int) -> Encoded:
    """A multilabel question's ``Encoded`` without the answers: units and scale only."""
    options = list(question.get("options", []))
    empty = np.zeros(0, dtype=np.int64)
    return Encoded(
        empty,
        empty,
        np.zeros(0),
        np.repeat(np.arange(n_tasks), len(options)),
        "nominal",
        np.array([0.0, 1.0]),
        1.0,
        options,
    )


def _multilabel_tally(masks: np.ndarray, task_idx: np.ndarray, n_tasks: int, k: int) -> _Tally:
    """Counts per (task, option) unit straight from the bit masks, rows sorted by task."""
    present = ~np.isnan(masks)
    tasks = task_idx[present]
    total = np.repeat(np.bincount(tasks, minlength=n_tasks), k)
    counts = np.zeros((2, n_tasks * k), dtype=np.int64)
    yes = counts[1].reshape(n_tasks, k)
    if len(tasks):
        bits = masks[present].astype(np.int64)
        starts = np.flatnonzero(np.concatenate([[True], tasks[1:] != tasks[:-1]]))
        for o in range(k):
            yes[tasks[starts], o] = np.add.reduceat((bits >> o) & 1, starts)
    np.subtract(total, counts[1], out=counts[0])
    return _Tally(np.array([0.0, 1.0]), None, total, counts)


def _tally(enc: Encoded, n_units: int) -> _Tally:
    """Count a question's encoded answers per unit (see ``_Tally``)."""
    cats, codes = metrics.categories_codes(enc.values, enc.scale)
    total = np.bincount(enc.units, minlength=n_units)
    counts = None
    if len(cats) <= MAX_TALLY:
        k = len(cats)
        counts = np.bincount(codes * n_units + enc.units, minlength=k * n_units)
        counts = counts.reshape(k, n_units)
    return _Tally(cats, codes, total, counts)


def _unit_pair_means(enc: Encoded, tally: _Tally, n_units: int):
    """Per unit: the mean pair score over its pairs of answers, and whether it has a pair.

    From the counts when there are few categories: equal pairs are
    ``sum_c n_c (n_c - 1) / 2``, and the distances add up to
    ``sum_{c<d} n_c n_d |v_c - v_d|``; no pair of answers is listed.
    """
    m = tally.total
    pairs = m * (m - 1) / 2.0
    if tally.counts is not None:
        n = tally.counts
        if enc.level == "nominal":
            score_sum = sum(row * (row - 1) for row in n) / 2.0
        else:
            distance = np.zeros(n_units)
            for c in range(len(n)):
                for d in range(c + 1, len(n)):
                    distance += (n[c] * n[d]) * abs(tally.cats[d] - tally.cats[c])
            score_sum = pairs - distance / enc.span
    else:
        i, j = metrics.within_unit_pairs(enc.units)
        scores = _pair_scores(enc, enc.values[i], enc.values[j])
        score_sum = np.bincount(enc.units[i], weights=scores, minlength=n_units)
    has = pairs > 0
    return np.where(has, score_sum / np.maximum(pairs, 1.0), 0.0), has


def _group_median(units: np.ndarray, values: np.ndarray, n_units: int, tally: _Tally | None = None):
    """Per unit: lower and upper median (equal when the count is odd); NaN if unanswered."""
    lower = np.full(n_units, np.nan)
    upper = np.full(n_units, np.nan)
    total = np.bincount(units, minlength=n_units) if tally is None else tally.total
    has = total > 0
    if tally is not None and tally.counts is not None:
        # The i-th smallest answer of a unit is the first category whose
        # cumulative count exceeds i: no sort.
        cum = tally.counts.cumsum(axis=0)
        lower[has] = tally.cats[(cum <= (total - 1) // 2).sum(axis=0)[has]]
        upper[has] = tally.cats[(cum <= total // 2).sum(axis=0)[has]]
        return lower, upper
    order = np.lexsort((values, units))
    v = values[order]
    starts = np.concatenate([[0], np.cumsum(total)[:-1]])
    lower[has] = v[starts[has] + (total[has] - 1) // 2]
    upper[has] = v[starts[has] + total[has] // 2]
    return lower, upper


def _consensus(
    question: dict, enc: Encoded, tally: _Tally, ds_choice: np.ndarray | None, n_units: int
):
    """Per unit consensus value (as numbers) and a tie flag, vectorised by type."""
    qtype = question["type"]
    units, values = enc.units, enc.values
    total = tally.total
    answered = total > 0
    if enc.level == "nominal" and qtype == "label":
        counts = tally.counts
        if counts is None:
            k = len(tally.cats)
            counts = np.bincount(tally.codes * n_units + units, minlength=k * n_units)
            counts = counts.reshape(k, n_units)
        top = counts.max(axis=0)
        tied = ((counts == top).sum(axis=0) > 1) & answered
        choice = counts.argmax(axis=0).astype(float)
        if ds_choice is not None:
            choice = np.where(tied, ds_choice, choice)
        return np.where(answered, choice, np.nan), tied
    if qtype == "multilabel":
        yes = tally.counts[1]
        tied = answered & (2 * yes == total)
        return np.where(answered, (2 * yes > total).astype(float), np.nan), tied
    if enc.level == "interval" or qtype == "ranking":
        sums = np.bincount(units, weights=values, minlength=n_units)
        return np.where(answered, sums / np.maximum(total, 1), np.nan), np.zeros(n_units, bool)
    lower, upper = _group_median(units, values, n_units, tally)
    tied = answered & (lower != upper)
    choice = lower
    if ds_choice is not None:
        choice = np.where(tied, ds_choice, lower)
    return choice, tied


def _distinct(values: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values among the present ones, code of every entry; -1 where absent)."""
    chosen = values[present]
    if chosen.ndim == 1 and chosen.dtype.kind in "iu" and len(chosen):
        uniq, inverse = _unique_ints(chosen)
    else:
        uniq, inverse = np.unique(chosen, return_inverse=True, axis=0 if chosen.ndim > 1 else None)
    codes = np.full(len(values), -1, dtype=np.int64)
    codes[present] = inverse.ravel()
    return uniq, codes


def _unique_ints(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for integers; counts when the range is small."""
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo > 4 * len(keys) + 65536:
        return np.unique(keys, return_inverse=True)
    seen = np.zeros(hi - lo + 1, dtype=bool)
    seen[keys - lo] = True
    uniq = np.flatnonzero(seen)
    position = np.cumsum(seen) - 1
    return uniq + lo, position[keys - lo]


def _consensus_codes(question: dict, enc: Encoded, choice: np.ndarray, tied: np.ndarray, n_tasks):
    """Per task: the consensus answer in the question's answer shape, as a code into a table.

    Returns ``(codes, table, ties)``: task ``t``'s consensus is ``table[codes[t]]``,
    ``None`` where the code is -1. Tasks that agree on the answer share a code,
    so each distinct answer is built once, whatever the number of tasks.
    """
    qtype = question["type"]
    missing = np.isnan(choice)
    if qtype == "multilabel":
        width = len(enc.labels)
        grid = choice.reshape(n_tasks, width) == 1.0
        tie_tasks = tied.reshape(n_tasks, width).any(axis=1)
        answered = ~missing.reshape(n_tasks, width).all(axis=1)
        if width <= 62:
            masks = grid.astype(np.int64) @ (np.int64(1) << np.arange(width, dtype=np.int64))
            uniq, codes = _distinct(masks, answered)
            table = [[enc.labels[i] for i in range(width) if int(m) >> i & 1] for m in uniq]
        else:
            uniq, codes = _distinct(grid, answered)
            table = [[enc.labels[i] for i in np.flatnonzero(row)] for row in uniq]
        return codes, table, tie_tasks
    if qtype == "ranking":
        width = len(enc.unit_task) // max(n_tasks, 1)
        grid = choice.reshape(n_tasks, width)
        seen = ~np.isnan(grid)
        tie_tasks = tied.reshape(n_tasks, width).any(axis=1)
        # Responses by mean position; a stable sort keeps index order among equal
        # means and puts the unanswered (NaN) last.
        order = np.argsort(grid, axis=1, kind="stable")
        ranked = np.take_along_axis(grid, order, axis=1)
        tie_tasks |= (ranked[:, 1:] == ranked[:, :-1]).any(axis=1)
        order = np.where(np.arange(width) < seen.sum(axis=1)[:, None], order, -1)
        uniq, codes = _distinct(order, seen.any(axis=1))
        table = [[int(i) for i in row if i >= 0] for row in uniq]
        return codes, table, tie_tasks
    if qtype == "label":
        codes = np.where(missing, -1, np.nan_to_num(choice)).astype(np.int64)
        return codes, list(enc.labels), tied
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
            return codes, table, tied
    if qtype == "rating" and enc.level != "interval":
        # Answers off the declared scale (the scale was edited): plain numbers.
        uniq, codes = _distinct(choice, ~missing)
        return codes, [int(v) for v in uniq], tied
    uniq, codes = _distinct(np.round(choice, 4), ~missing)
    return codes, [float(v) for v in uniq], tied


def _consensus_docs(columns: list, n_tasks: int) -> tuple[np.ndarray, list[bytes]]:
    """One JSON document per distinct consensus, and each task's document number.

    ``columns`` holds ``(name, codes, table, ties)`` per question, in question
    order. A task's document is ``{name: answer, ..., "_ties": [names]}``.
    """
    digits = [codes + 1 for _, codes, _, _ in columns]  # 0 = no consensus
    radices = [len(table) + 1 for _, _, table, _ in columns]
    digits += [ties.astype(np.int64) for _, _, _, ties in columns]
    radices += [2] * len(columns)
    if not digits:
        return np.zeros(n_tasks, dtype=np.int32), [b"{}"]
    if float(np.prod(radices, dtype=float)) < 2.0**62:
        key = np.zeros(n_tasks, dtype=np.int64)
        for d, r in zip(digits, radices, strict=True):
            key = key * r + d
        uniq, inverse = _unique_ints(key) if n_tasks else (key, key)
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
        tied = [name for name, t in zip(names, row[width:], strict=True) if t]
        if tied:
            entry["_ties"] = tied
        docs.append(orjson.dumps(entry))
    return inverse.ravel().astype(np.int32), docs


# --- loading ------------------------------------------------------------------


def _load(project: Project):
    """All of the project's answers in one query: one column per question.

    Returns ``[task ids, annotator ids, lead times, one column per question]``,
    sorted by task.
    """
    exprs, params = [], []
    for question in project.questions:
        sql, p = _select_sql(question)
        exprs.append(sql)
        params.extend(p)
    numeric = [_is_numeric(q) for q in project.questions]
    connection.ensure_connection()
    if all(numeric):
        return _load_numeric(project, exprs, params)
    return _load_csv(project, exprs, params, numeric)


def _load_numeric(project: Project, exprs: list[str], params: list):
    """Numeric questions only: each answer as one fixed-width binary record.

    PostgreSQL packs every answer into 8-byte big-endian fields (task,
    annotator, lead time, one float per question; NULL as NaN) and
    concatenates them per chunk of tasks, so a million answers arrive as a few
    dozen values that NumPy reads without a Python loop. ``OFFSET 0`` keeps
    the inner query apart from the aggregate, so parallel workers can extract
    the answers from the JSON.
    """
    fields = [
        "int8send(task_id::int8)",
        "int8send(annotator_id::int8)",
        "float8send(coalesce(lead_time_s::float8, 'NaN'::float8))",
    ]
    fields += [f"float8send(coalesce(({e})::float8, 'NaN'::float8))" for e in exprs]
    sql = f"""
        SELECT string_agg(answer, ''::bytea) FROM (
            SELECT task_id::int8 >> 14 AS chunk, {" || ".join(fields)} AS answer
              FROM {Annotation._meta.db_table} WHERE project_id = %s OFFSET 0) AS a
         GROUP BY chunk
    """
    record = np.dtype(
        [("task", ">i8"), ("annotator", ">i8")] + [(f"f{i}", ">f8") for i in range(len(fields) - 2)]
    )
    with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
        # Room to group the answers in memory; no JIT, whose compilation costs more than it saves.
        cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
        cursor.execute(sql, [*params, project.id], binary=True)
        chunks = [np.frombuffer(data, dtype=record) for (data,) in cursor]
        n = sum(len(chunk) for chunk in chunks)
        out = [np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)]
        out += [np.empty(n) for _ in fields[2:]]
        at = 0
        for chunk in chunks:
            for column, name in zip(out, record.names, strict=True):
                column[at : at + len(chunk)] = chunk[name]
            at += len(chunk)
        del chunks
    tasks, annotators = out[0], out[1]
    # The rows come in no particular order: fix the order (task, annotator), so
    # the same answers always give the same sums to the last bit.
    step = np.diff(tasks)
    if not np.all((step > 0) | ((step == 0) & (np.diff(annotators) > 0))):
        order = np.lexsort((annotators, tasks))
        out = [column[order] for column in out]
    return out


def _load_csv(project: Project, exprs: list[str], params: list, numeric: list[bool]):
    """Any question types: COPY ... TO STDOUT as CSV, parsed by pandas' C reader."""
    # Imported here: pandas takes half a second to import, and every process
    # that loads the URLconf (web and export workers) would pay for it.
    import pandas as pd

    columns = "".join(f", {e} AS q{i}" for i, e in enumerate(exprs))
    sql = (
        f"SELECT task_id, annotator_id, lead_time_s{columns} "
        f"FROM {Annotation._meta.db_table} WHERE project_id = %s ORDER BY task_id, id"
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
    """Per task mean pairwise token F1 of the text answers, and the medoid answer.

    ``raw`` holds each answer as JSON. Two answers that correct different
    turns of a conversation (or one a turn, the other the next turn) do not
    agree: their similarity is 0.
    """
    groups: dict[int, list] = {}
    for t, doc in zip(task_idx.tolist(), raw.tolist(), strict=True):
        value = _parse(doc)
        if answer_text(value):
            groups.setdefault(t, []).append(value)
    agreement = np.full(n_tasks, np.nan)
    consensus: list = [None] * n_tasks
    ties = np.zeros(n_tasks, dtype=bool)
    for t, values in groups.items():
        if len(values) == 1:
            consensus[t] = values[0]
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
        consensus[t] = values[best[0]]
        ties[t] = len(best) > 1
        agreement[t] = float(sim[np.triu_indices(len(values), 1)].mean())
    return agreement, consensus, ties


# --- the snapshot ---------------------------------------------------------------


@dataclass
class _Question:
    """One question's state between the per-task pass and the coefficients."""

    question: dict
    enc: Encoded | None = None
    coders: np.ndarray | None = None
    tally: _Tally | None = None
    stats: dict = field(default_factory=dict)  # figures known after the per-task pass
    raw: np.ndarray | None = None  # answers still to be encoded (multilabel bit masks)


@dataclass
class _Prepared:
    """Everything the per-task write and the snapshot body need, read from the database."""

    project: Project
    task_ids: np.ndarray
    task_idx: np.ndarray
    coder_ids: np.ndarray
    coder_idx: np.ndarray
    lead: np.ndarray
    n_rows: int
    gold: dict
    gold_pos: dict
    questions: list[_Question]
    task_agreement: np.ndarray
    consensus_code: np.ndarray  # per task: index into consensus_docs
    consensus_docs: list[bytes]  # distinct consensus documents (JSON)
    users: dict
    skips: dict
    external: dict
    load_s: float
    compute_s: float


def _prepare(project: Project) -> _Prepared:
    """Load the answers and compute what the per-task write needs.

    Per task: agreement (mean pair score), consensus (with Dawid-Skene for
    ties). Every other database read happens here too, so the coefficients
    that follow need no query and can run while the write does.
    """
    started = time.perf_counter()
    loaded = _load(project)
    load_s = time.perf_counter() - started
    task_ids_raw, coder_ids_raw, lead = loaded[:3]
    raw_cols = loaded[3:]
    del loaded
    task_ids, task_idx = _dense_index(task_ids_raw)
    coder_ids, coder_idx = _dense_index(coder_ids_raw)
    # 32-bit positions halve the memory of every per-answer array derived from them.
    task_idx, coder_idx = task_idx.astype(np.int32), coder_idx.astype(np.int32)
    n_tasks, n_coders, n_rows = len(task_ids), len(coder_ids), len(task_ids_raw)
    del task_ids_raw, coder_ids_raw

    gold = dict(
        Task.objects.filter(project=project, is_gold=True, gold__isnull=False).values_list(
            "id", "gold"
        )
    )
    gold_ids = np.array(sorted(gold), dtype=np.int64)
    at = np.searchsorted(task_ids, gold_ids).clip(max=max(len(task_ids) - 1, 0))
    found = task_ids[at] == gold_ids if len(task_ids) else np.zeros(len(gold_ids), bool)
    gold_pos = {int(i): int(n) for i, n in zip(gold_ids[found], at[found], strict=True)}

    task_score_sum = np.zeros(n_tasks)
    task_score_n = np.zeros(n_tasks)
    columns = []  # (name, codes, table, ties) per question, for the consensus documents
    prepared = []
    for qi, question in enumerate(project.questions):
        name = question["name"]
        raw = raw_cols[qi]
        raw_cols[qi] = None
        if question["type"] == "text":
            agreement, consensus, ties = _text_task_agreement(raw, task_idx, n_tasks)
            defined = ~np.isnan(agreement)
            task_score_sum[defined] += agreement[defined]
            task_score_n[defined] += 1
            answered = int(sum(1 for r in raw if answer_text(_parse(r))))
            stats = {
                **metrics.empty_figures("text", annotations=answered, items=int(defined.sum())),
                "similarity": "token_f1",
                "mean_similarity": float(agreement[defined].mean()) if defined.any() else None,
            }
            present = np.array([c is not None for c in consensus], dtype=bool)
            codes = np.where(present, np.arange(n_tasks), -1)
            columns.append((name, codes, consensus, ties))
            prepared.append(_Question(question, stats=stats))
            continue
        if _is_bitmask_multilabel(question):
            # The per-task pass needs only the counts per (task, option): the
            # answers are spread over (task, option) units for the coefficients.
            enc = _multilabel_outline(question, n_tasks)
            coders = np.zeros(0, dtype=np.int32)
            tally = _multilabel_tally(raw, task_idx, n_tasks, len(enc.labels))
            item = _Question(question, enc, coders, tally, raw=raw)
        else:
            enc = _encode(question, raw, task_idx, n_tasks)
            del raw
            if enc is None:
                continue
            coders = coder_idx[enc.rows]
            tally = _tally(enc, len(enc.unit_task))
            item = _Question(question, enc, coders, tally)
        n_units = len(enc.unit_task)
        prepared.append(item)

        # Agreement per task: the mean over its units of the mean pair score.
        unit_mean, has_pair = _unit_pair_means(enc, tally, n_units)
        t_sum = np.bincount(enc.unit_task, weights=unit_mean, minlength=n_tasks)
        t_n = np.bincount(enc.unit_task, weights=has_pair.astype(float), minlength=n_tasks)
        defined = t_n > 0
        task_score_sum[defined] += t_sum[defined] / t_n[defined]
        task_score_n[defined] += 1
        del unit_mean, has_pair

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
            best = ds.posterior.argmax(axis=1)
            ds_choice = best.astype(float) if question["type"] == "label" else enc.scale[best]
            answered_by = np.bincount(coders, minlength=n_coders) > 0
            item.stats["dawid_skene"] = {
                "iterations": ds.iterations,
                "accuracy": [
                    {"annotator_id": int(coder_ids[c]), "accuracy": round(float(ds.accuracy[c]), 4)}
                    for c in np.nonzero(answered_by)[0]
                ],
            }
            del ds, codes

        choice, tied = _consensus(question, enc, tally, ds_choice, n_units)
        columns.append((name, *_consensus_codes(question, enc, choice, tied, n_tasks)))

    task_agreement = np.where(
        task_score_n > 0, task_score_sum / np.maximum(task_score_n, 1), np.nan
    )
    # A task with a single answer has no agreement, whatever the per-question bookkeeping.
    answers_per_task = np.bincount(task_idx, minlength=n_tasks)
    task_agreement[answers_per_task < 2] = np.nan
    consensus_code, consensus_docs = _consensus_docs(columns, n_tasks)
    del columns

    lowest = _lowest(task_agreement)
    external = dict(
        Task.objects.filter(id__in=[int(task_ids[t]) for t in lowest]).values_list(
            "id", "external_id"
        )
    )
    users, skips = _annotator_rows(project, coder_ids)
    return _Prepared(
        project=project,
        task_ids=task_ids,
        task_idx=task_idx,
        coder_ids=coder_ids,
        coder_idx=coder_idx,
        lead=lead,
        n_rows=n_rows,
        gold=gold,
        gold_pos=gold_pos,
        questions=prepared,
        task_agreement=task_agreement,
        consensus_code=consensus_code,
        consensus_docs=consensus_docs,
        users=users,
        skips=skips,
        external=external,
        load_s=load_s,
        compute_s=time.perf_counter() - started - load_s,
    )


def _lowest(task_agreement: np.ndarray) -> list[int]:
    """Positions of the tasks with the lowest agreement, lowest first."""
    lowest = np.argsort(np.where(np.isnan(task_agreement), np.inf, task_agreement), kind="stable")
    lowest = lowest[:LOWEST_TASKS]
    return [int(t) for t in lowest if not np.isnan(task_agreement[t])]


def _body(prep: _Prepared, bootstrap: int) -> dict:
    """The snapshot body: coefficients per question, annotators, pairwise, lowest tasks.

    Pure computation on what ``_prepare`` loaded: no database access.
    """
    started = time.perf_counter()
    n_tasks, n_coders, n_rows = len(prep.task_ids), len(prep.coder_ids), prep.n_rows
    loo_sum = np.zeros(n_coders)
    loo_n = np.zeros(n_coders)
    gold_sum = np.zeros(n_coders)
    gold_n = np.zeros(n_coders)
    pair_sum = np.zeros((n_coders, n_coders))
    pair_n = np.zeros((n_coders, n_coders))
    questions: dict = {}
    for item in prep.questions:
        question = item.question
        name = question["name"]
        if item.enc is None:
            questions[name] = item.stats
            continue
        if item.raw is not None:
            item.enc = _encode(question, item.raw, prep.task_idx, n_tasks)
            item.coders = prep.coder_idx[item.enc.rows]
            item.tally.codes = item.enc.values.astype(np.int64)  # categories 0 and 1
            item.raw = None
        enc, coders = item.enc, item.coders
        n_units = len(enc.unit_task)
        tally = item.tally
        k = len(tally.cats)
        # Who answered what alongside whom: Cohen's kappa and the pairwise agreement.
        tables = metrics.joint_tables(enc.units, coders, tally.codes, n_coders=n_coders, k=k)
        stats = metrics.reliability_long(
            enc.units,
            coders,
            enc.values,
            n_units=n_units,
            n_coders=n_coders,
            level=enc.level,
            scale=enc.scale,
            bootstrap=bootstrap,
            tables=tables,
        )
        stats["annotations"] = int(np.count_nonzero(np.bincount(enc.rows, minlength=n_rows)))
        stats.update(item.stats)

        pairs, joint = tables
        if enc.level == "nominal":
            score = np.eye(k)
        else:
            score = 1.0 - np.abs(tally.cats[:, None] - tally.cats[None, :]) / enc.span
        first, second = np.divmod(pairs, n_coders)
        pair_sum[first, second] += (joint * score).sum(axis=(1, 2))
        pair_n[first, second] += joint.sum(axis=(1, 2))
        del tables, pairs, joint

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
            width = len(enc.labels)
            # Units are (task, option): option o's units are o, o + width, ...
            chosen = tally.counts[1].reshape(n_tasks, width).sum(axis=0)
            stats["distribution"] = [
                {"value": o, "count": int(c)} for o, c in zip(enc.labels, chosen, strict=True)
            ]
            per_option = {}
            for o, label in enumerate(enc.labels):
                rows, weights = metrics.distinct_rows(tally.counts[:, o::width].T)
                per_option[label] = metrics.alpha_from_counts(
                    rows, "nominal", np.array([0.0, 1.0]), weights
                )
            stats["per_option_alpha"] = per_option
        questions[name] = stats

        # Leave-one-out: each answer against the others' consensus on its unit.
        loo, has_others = _leave_one_out(enc, tally, n_units)
        loo_sum += np.bincount(coders[has_others], weights=loo[has_others], minlength=n_coders)
        loo_n += np.bincount(coders[has_others], minlength=n_coders)
        del loo, has_others

        # Gold: each answer on a gold task against the gold answer.
        if prep.gold_pos:
            gold_units, gold_vals = _gold_units(
                question, prep.gold, prep.task_ids, prep.gold_pos, enc
            )
            if len(gold_units):
                lookup = np.full(n_units, np.nan)
                lookup[gold_units] = gold_vals
                g = lookup[enc.units]
                ok = ~np.isnan(g)
                gscore = _pair_scores(enc, enc.values[ok], g[ok])
                gold_sum += np.bincount(coders[ok], weights=gscore, minlength=n_coders)
                gold_n += np.bincount(coders[ok], minlength=n_coders)

    annotators = _annotators(
        coder_ids=prep.coder_ids,
        coder_idx=prep.coder_idx,
        lead=prep.lead,
        loo=(loo_sum, loo_n),
        gold=(gold_sum, gold_n),
        users=prep.users,
        skips=prep.skips,
    )
    sym_n = pair_n + pair_n.T
    sym = np.where(sym_n > 0, (pair_sum + pair_sum.T) / np.maximum(sym_n, 1), np.nan)
    task_ids, task_agreement = prep.task_ids, prep.task_agreement
    return {
        "questions": questions,
        "annotators": annotators,
        "pairwise": {
            "annotator_ids": [int(c) for c in prep.coder_ids],
            "agreement": [
                [None if np.isnan(x) else round(float(x), 4) for x in row] for row in sym
            ],
            "pairs": [[int(x) for x in row] for row in sym_n],
        },
        "lowest_tasks": [
            {
                "task_id": int(task_ids[t]),
                "external_id": prep.external.get(int(task_ids[t]), ""),
                "agreement": round(float(task_agreement[t]), 4),
            }
            for t in _lowest(task_agreement)
        ],
        "tasks": n_tasks,
        "annotations": n_rows,
        "timings": {
            "load_s": round(prep.load_s, 3),
            "compute_s": round(prep.compute_s + time.perf_counter() - started, 3),
        },
    }


def _leave_one_out(enc: Encoded, tally: _Tally, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Each answer's score against the others' consensus on its unit, and whether there are others.

    Nominal: 1 if the answer is the others' majority (1/t when t categories tie
    for it); otherwise ``1 - |x - mean(others)| / span``.
    """
    others = tally.total[enc.units] - 1
    has_others = others > 0
    if enc.level == "nominal" and tally.counts is not None:
        # Taking the answer out leaves it the others' majority only if it was the
        # unit's one most frequent category; it then ties with every category
        # one answer behind.
        counts = tally.counts
        top = counts.max(axis=0)
        unique_top = (counts == top).sum(axis=0) == 1
        behind = (counts == top - 1).sum(axis=0)
        score = np.where(unique_top, 1.0 / (1.0 + behind), 0.0)
        agree = np.where(tally.codes == counts.argmax(axis=0)[enc.units], score[enc.units], 0.0)
    elif enc.level == "nominal":
        k = len(tally.cats)
        vc = tally.codes
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


def agreement_compute(*, project: Project, bootstrap: int = BOOTSTRAP_SAMPLES) -> dict:
    """Compute the snapshot body and the per-task results (without writing anything)."""
    prep = _prepare(project)
    return {
        "body": _body(prep, bootstrap),
        "task_ids": prep.task_ids,
        "task_agreement": prep.task_agreement,
        "consensus_code": prep.consensus_code,
        "consensus_docs": prep.consensus_docs,
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


def _annotator_rows(project: Project, coder_ids: np.ndarray) -> tuple[dict, dict]:
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


def _annotators(*, coder_ids, coder_idx, lead, loo, gold, users, skips) -> list[dict]:
    n_coders = len(coder_ids)
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


# --- the per-task write -----------------------------------------------------------

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # binary COPY header, no flags or extension
_TASK_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("id_len", ">i4"),
        ("id", ">i8"),
        ("agreement_len", ">i4"),
        ("agreement", ">f8"),
        ("code_len", ">i4"),
        ("code", ">i4"),
    ]
)


def _task_rows_copy(task_ids: np.ndarray, agreement: np.ndarray, code: np.ndarray) -> bytes:
    """(id, agreement, document number) per task in PostgreSQL's binary COPY format.

    Built by NumPy as one fixed-width record per task; a missing agreement is
    sent as NaN so that every record has the same width.
    """
    rows = np.empty(len(task_ids), dtype=_TASK_ROW)
    rows["fields"] = 3
    rows["id_len"] = 8
    rows["id"] = task_ids
    rows["agreement_len"] = 8
    rows["agreement"] = agreement
    rows["code_len"] = 4
    rows["code"] = code
    return _COPY_SIGNATURE + rows.tobytes() + b"\xff\xff"


class _TasksWrite:
    """Agreement, consensus and state of every task, written while the caller computes.

    The rows go into two temporary tables by COPY: the distinct consensus
    documents, and per task its agreement and document number. One upsert into
    TaskAgreement then applies them, skipping rows whose values would not
    change, and the tasks that cross the threshold change state.
    It runs in a thread on the same connection, so it belongs to the caller's
    transaction; the caller must not use the connection until ``wait()``.
    """

    def __init__(self, project: Project, prep: _Prepared):
        self.started = time.perf_counter()
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if not len(prep.task_ids):
            return
        connection.ensure_connection()
        self.cursor = psycopg.Cursor(connection.connection)
        cursor = self.cursor
        cursor.execute(
            "DROP TABLE IF EXISTS pg_temp.agreement_docs, pg_temp.agreement_tasks;"
            " CREATE TEMP TABLE agreement_docs (code int4, consensus jsonb) ON COMMIT DROP;"
            " CREATE TEMP TABLE agreement_tasks (id int8, agreement float8, code int4)"
            " ON COMMIT DROP"
        )
        with cursor.copy("COPY agreement_docs (code, consensus) FROM STDIN") as copy:
            for n, doc in enumerate(prep.consensus_docs):
                copy.write_row((n, doc.decode()))
        rows = _task_rows_copy(prep.task_ids, prep.task_agreement, prep.consensus_code)
        with cursor.copy(
            "COPY agreement_tasks (id, agreement, code) FROM STDIN (FORMAT binary)"
        ) as copy:
            copy.write(rows)
        del rows
        # Statistics so that the planner hashes the small documents table and
        # sees how few tasks fall below the threshold; no JIT, whose
        # compilation costs more than it saves here.
        cursor.execute(
            "ANALYZE agreement_docs, agreement_tasks;"
            " SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"
        )
        threshold = float(project.agreement_threshold)
        # Tasks crossing the threshold change state; that is the only write to
        # the wide task rows. NaN (no agreement) sorts above every number in
        # PostgreSQL, hence the nullif.
        upsert = f"""
            INSERT INTO {TaskAgreement._meta.db_table} AS a (task_id, agreement, consensus)
            SELECT r.id, nullif(r.agreement, 'NaN'::float8), d.consensus
              FROM agreement_tasks AS r JOIN agreement_docs AS d ON d.code = r.code
            ON CONFLICT (task_id) DO UPDATE
               SET agreement = excluded.agreement, consensus = excluded.consensus
             WHERE a.agreement IS DISTINCT FROM excluded.agreement
                OR a.consensus IS DISTINCT FROM excluded.consensus
        """
        disputed = f"""
            UPDATE {Task._meta.db_table} AS t SET state = 'disputed'
              FROM agreement_tasks AS r
             WHERE r.agreement < %(threshold)s AND t.id = r.id
               AND t.project_id = %(project)s AND t.state = 'complete'
        """
        settled = f"""
            UPDATE {Task._meta.db_table} AS t SET state = 'complete'
              FROM agreement_tasks AS r
             WHERE t.project_id = %(project)s AND t.state = 'disputed' AND t.id = r.id
               AND nullif(r.agreement, 'NaN'::float8) >= %(threshold)s
        """
        self._statements = [upsert, disputed, settled]
        self._params = {"threshold": threshold, "project": project.id}
        self._thread = threading.Thread(target=self._run, name="agreement-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for sql in self._statements:
                self.cursor.execute(sql, self._params)
        except BaseException as exc:  # re-raised by wait() in the caller's thread
            self.error = exc

    def wait(self) -> float:
        """Block until the write is done; returns its duration, re-raising its error."""
        if self._thread is not None:
            self._thread.join()
            self.cursor.close()
        if self.error is not None:
            raise self.error
        return time.perf_counter() - self.started

    def cancel(self) -> None:
        """Stop the write (the caller failed and rolls back) without waiting for it to finish."""
        if self._thread is not None:
            if self._thread.is_alive():
                connection.connection.cancel_safe()
            self._thread.join()
            self.cursor.close()


def agreement_snapshot_create(*, project_id: int, bootstrap: int = BOOTSTRAP_SAMPLES):
    """Recompute the project's agreement and store a snapshot; returns it."""
    started = time.perf_counter()
    project = Project.objects.get(pk=project_id)
    prep = _prepare(project)
    now = timezone.now()
    with transaction.atomic():
        write = _TasksWrite(project, prep)
        try:
            body = _body(prep, bootstrap)
        except BaseException:
            write.cancel()
            raise
        write_s = write.wait()
        body["computed_at"] = now.isoformat()
        body["timings"]["write_s"] = round(write_s, 3)
        snapshot = AgreementSnapshot.objects.create(
            project=project,
            computed_at=now,
            duration_s=time.perf_counter() - started,
            data=body,
        )
    return snapshot


def agreement_latest(*, project: Project) -> AgreementSnapshot | None:
    return AgreementSnapshot.objects.filter(project=project).order_by("-computed_at", "-id").first()
