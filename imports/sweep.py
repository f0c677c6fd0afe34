"""Recovery of import jobs, run by the sweeper (web/sweeper.py)."""

from __future__ import annotations

from web import jobs, sweeper

from .cleanup import upload_discard
from .models import ImportJob
from .tasks import import_task_run


def _given_up(pk: int) -> None:
    # Failed for good: nothing will read the upload again.
    for ref in ImportJob.objects.filter(pk=pk).values_list("file_path", flat=True):
        upload_discard(ref)


@sweeper.register
def sweep_imports() -> dict[str, int]:
    return jobs.sweep_jobs(ImportJob, import_task_run, what="import", on_given_up=_given_up)
