from __future__ import annotations

from celery import shared_task

from .services import ExportRetry, export_run


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(ExportRetry,),
    retry_backoff=True,
    max_retries=5,
)
def export_build(self, export_id: int) -> str:
    """Build one export's file. A worker that dies mid-way leaves the message
    unacknowledged, so the job is redelivered and starts over."""
    export = export_run(export_id=export_id)
    return export.state if export is not None else "missing"
