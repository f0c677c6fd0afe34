"""Reading a project's answers from PostgreSQL into NumPy arrays.

All answers come in one query, one column per question, each answer already
turned into a number by PostgreSQL where the question allows it (the
expressions come from the question's encoder), so Python never parses JSON
for numeric questions.
"""

from __future__ import annotations

import io

import numpy as np
import psycopg
from django.db import connection, transaction

from agreement import sql
from agreement.encoding import encoder_for
from projects.models import Project, Task


def load(project: Project):
    """All of the project's answers in one query: one column per question.

    Returns ``[task ids, annotator ids, lead times, one column per question]``,
    sorted by task.
    """
    exprs, params = [], []
    numeric = []
    for question in project.questions:
        encoder = encoder_for(question)
        expr, p = encoder.select_sql()
        exprs.append(expr)
        params.extend(p)
        numeric.append(encoder.numeric)
    connection.ensure_connection()
    if all(numeric):
        return load_numeric(project, exprs, params)
    return load_csv(project, exprs, params, numeric)


def load_numeric(project: Project, exprs: list[str], params: list):
    """Numeric questions only: each answer as one fixed-width binary record.

    PostgreSQL packs every answer into 8-byte big-endian fields (task,
    annotator, lead time, one float per question; NULL as NaN) and
    concatenates them per chunk of tasks, so a million answers arrive as a few
    dozen values that NumPy reads without a Python loop.
    """
    query = sql.answers_packed(exprs)
    record = np.dtype(
        [("task", ">i8"), ("annotator", ">i8"), ("lead", ">f8")]
        + [(f"f{i}", ">f8") for i in range(len(exprs))]
    )
    with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql.LOAD_SETTINGS)
        cursor.execute(query, [*params, project.id], binary=True)
        chunks = [np.frombuffer(data, dtype=record) for (data,) in cursor]
        n = sum(len(chunk) for chunk in chunks)
        out = [np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)]
        out += [np.empty(n) for _ in range(len(exprs) + 1)]
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


def load_csv(project: Project, exprs: list[str], params: list, numeric: list[bool]):
    """Any question types: COPY ... TO STDOUT as CSV, parsed by pandas' C reader."""
    # Imported here: pandas takes half a second to import, and every process
    # that loads the URLconf (web and export workers) would pay for it.
    import pandas as pd

    buffer = io.BytesIO()
    with psycopg.ClientCursor(connection.connection) as cursor:
        query = cursor.mogrify(sql.answers_rows(exprs), [*params, project.id])
        with cursor.copy(sql.copy_csv_out(query)) as copy:
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


def dense_index(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def gold_answers(project: Project, task_ids: np.ndarray) -> tuple[dict, dict]:
    """The gold answers by task id, and the position among ``task_ids`` of each answered one."""
    gold = dict(
        Task.objects.filter(project=project, is_gold=True, gold__isnull=False).values_list(
            "id", "gold"
        )
    )
    gold_ids = np.array(sorted(gold), dtype=np.int64)
    at = np.searchsorted(task_ids, gold_ids).clip(max=max(len(task_ids) - 1, 0))
    found = task_ids[at] == gold_ids if len(task_ids) else np.zeros(len(gold_ids), bool)
    gold_pos = {int(i): int(n) for i, n in zip(gold_ids[found], at[found], strict=True)}
    return gold, gold_pos


def external_ids(task_ids: np.ndarray, positions: list[int]) -> dict:
    """External ids of the tasks at ``positions``, by task id."""
    return dict(
        Task.objects.filter(id__in=[int(task_ids[t]) for t in positions]).values_list(
            "id", "external_id"
        )
    )
