"""The per-task write's pieces: the binary COPY records and the state changes."""

from __future__ import annotations

import numpy as np

from agreement import sql
from agreement.writing import task_rows_copy
from projects.models import Task


def test_state_changes_name_the_model_states():
    assert f"'{Task.State.DISPUTED}'" in sql.TASKS_DISPUTE
    assert f"'{Task.State.COMPLETE}'" in sql.TASKS_SETTLE
    assert Task._meta.db_table in sql.TASKS_DISPUTE


def test_task_rows_copy_is_one_fixed_width_record_per_task():
    data = task_rows_copy(
        np.array([7, 8]), np.array([0.5, np.nan]), np.array([0, 1]), np.array([0, 5])
    )
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00")
    assert data.endswith(b"\xff\xff")
    assert len(data) == 19 + 2 * (2 + 4 + 8 + 4 + 8 + 4 + 4 + 4 + 8) + 2
