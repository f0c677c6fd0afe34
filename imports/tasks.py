"""Celery entry points for imports: thin, they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from . import services


# The name predates the app move; kept so that jobs queued before an upgrade still run.
@shared_task(name="projects.imports.import_run", acks_late=True)
def import_task_run(job_id: int) -> str:
    """Run one import job; a resent or redelivered message finds the job
    finished, running elsewhere, or (its worker dead) runs it from scratch."""
    job = services.import_run(job_id=job_id)
    return job.state if job is not None else "missing"
