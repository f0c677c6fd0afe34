"""The per-task write: agreement and consensus into TaskAgreement, task states.

Runs on the caller's connection in a thread, so PostgreSQL writes while the
caller computes the coefficients.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import psycopg
from django.db import connection

from agreement import sql
from projects.models import Project

#: Questions whose disputes a recomputation records: one bit each in an int8.
MAX_DISPUTE_BITS = 63
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
        ("disputed_len", ">i4"),
        ("disputed", ">i8"),
    ]
)


def task_rows_copy(
    task_ids: np.ndarray, agreement: np.ndarray, code: np.ndarray, disputed: np.ndarray
) -> bytes:
    """(id, agreement, document number, disputed questions) per task, binary COPY format.

    Built by NumPy as one fixed-width record per task; a missing agreement is
    sent as NaN so that every record has the same width.
    """
    rows = np.empty(len(task_ids), dtype=_TASK_ROW)
    rows["fields"] = 4
    rows["id_len"] = 8
    rows["id"] = task_ids
    rows["agreement_len"] = 8
    rows["agreement"] = agreement
    rows["code_len"] = 4
    rows["code"] = code
    rows["disputed_len"] = 8
    rows["disputed"] = disputed
    return _COPY_SIGNATURE + rows.tobytes() + b"\xff\xff"


class TasksWrite:
    """Agreement, consensus and state of every task, written while the caller computes.

    The rows go into two temporary tables by COPY: the distinct consensus
    documents, and per task its agreement and document number. One upsert into
    TaskAgreement then applies them, skipping rows whose values would not
    change, and complete tasks with a question in dispute become disputed
    (naming those questions), disputed ones whose answers now agree complete.
    It runs in a thread on the same connection, so it belongs to the caller's
    transaction; the caller must not use the connection until ``wait()``.
    """

    def __init__(
        self,
        project: Project,
        *,
        task_ids: np.ndarray,
        agreement: np.ndarray,
        codes: np.ndarray,
        docs: list[bytes],
        disputed: np.ndarray | None = None,
    ):
        self.started = time.perf_counter()
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if not len(task_ids):
            return
        connection.ensure_connection()
        self.cursor = psycopg.Cursor(connection.connection)
        cursor = self.cursor
        cursor.execute(sql.RESULTS_CREATE)
        with cursor.copy(sql.RESULTS_COPY_DOCS) as copy:
            for n, doc in enumerate(docs):
                copy.write_row((n, doc.decode()))
        if disputed is None:
            disputed = np.zeros(len(task_ids), dtype=np.int64)
        rows = task_rows_copy(task_ids, agreement, codes, disputed)
        with cursor.copy(sql.RESULTS_COPY_TASKS) as copy:
            copy.write(rows)
        del rows
        cursor.execute(sql.RESULTS_ANALYZE)
        self._statements = [sql.RESULTS_UPSERT]
        if project.stop_confidence is None:
            # Under stop_confidence a task may complete although its answers
            # differ; its submits decided its state, not the agreement rule.
            self._statements += [sql.TASKS_DISPUTE, sql.TASKS_SETTLE]
        names = [q["name"] for q in project.questions][:MAX_DISPUTE_BITS]
        self._params = {"names": names, "project": project.id}
        self._thread = threading.Thread(target=self._run, name="agreement-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for statement in self._statements:
                self.cursor.execute(statement, self._params)
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
