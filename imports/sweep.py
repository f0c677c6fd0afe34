"""Recovery of import jobs, run by the sweeper (web/sweeper.py)."""

from __future__ import annotations

from web import jobs, sweeper

from .models import ImportJob
from .tasks import import_task_run


@sweeper.register
def sweep_imports() -> dict[str, int]:
    return jobs.sweep_jobs(ImportJob, import_task_run, what="import")
