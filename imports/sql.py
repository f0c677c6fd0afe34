"""The task import's SQL: the per-project lock, the existing keys, COPY, and progress.

Raw SQL because an import stores up to millions of rows: COPY costs a few
microseconds a row where the ORM's INSERTs cost far more. Table names come
from the models.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from imports.models import ImportJob
from projects import sql as projects_sql
from projects.models import Task

TASK = Task._meta.db_table
IMPORT_JOB = ImportJob._meta.db_table

# The project's task-store lock, shared with projects.services.task_words_fill.
PROJECT_LOCK, PROJECT_LOCK_CLASS = projects_sql.TASK_STORE_LOCK, projects_sql.TASK_STORE_LOCK_CLASS

# Parameter: the project id.
TASK_KEYS = f"SELECT external_id, content_hash FROM {TASK} WHERE project_id = %s"

# Parameters: the project id, the batch's external ids, the batch's content hashes.
BATCH_TASK_KEYS = (
    f"SELECT external_id, content_hash FROM {TASK}"
    " WHERE project_id = %s AND (external_id = ANY(%s) OR content_hash = ANY(%s))"
)

# On the progress writer's own connection: never wait on a row the import holds.
PROGRESS_LOCK_TIMEOUT = "SET lock_timeout = '200ms'"

# Parameters: progress (0..1), lines read, the job id.
PROGRESS = f"UPDATE {IMPORT_JOB} SET progress = %s, lines = %s WHERE id = %s"

_HANDLED = {"id", "project", "external_id", "data", "content_hash", "is_gold", "gold", "import_id"}


def task_copy(import_id: int | None = None) -> tuple[str, tuple]:
    """The COPY statement for new tasks and the values that end each of its rows.

    A row is ``(project_id, external_id, data, content_hash, is_gold, gold)``
    followed by these values: the import job's id (``import_id``, null for tasks
    not stored by a job), then every other Task column's model default.
    """
    names, defaults = ["import_id"], [import_id]
    for model_field in Task._meta.concrete_fields:
        if model_field.name in _HANDLED:
            continue
        names.append(connection.ops.quote_name(model_field.column))
        if getattr(model_field, "auto_now_add", False) or getattr(model_field, "auto_now", False):
            defaults.append(timezone.now())
        else:
            defaults.append(model_field.get_db_prep_save(model_field.get_default(), connection))
    fixed = ["project_id", "external_id", "data", "content_hash", "is_gold", "gold"]
    columns = ", ".join([*fixed, *names])
    return f"COPY {TASK} ({columns}) FROM STDIN", tuple(defaults)
