"""Celery entry points for agreement (thin: ids in, one service call)."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache


# The name predates the app move; kept so that jobs queued before an upgrade still run.
@shared_task(name="projects.agreement.tasks.agreement_recompute")
def agreement_recompute(project_id: int) -> int | None:
    # Imported here: scheduling queues this task, so it imports this module.
    from agreement.scheduling import pending_key
    from agreement.services import agreement_snapshot_create
    from projects.models import Project

    # Clear the debounce key first: submits that arrive while this runs
    # schedule the next recomputation instead of being lost.
    cache.delete(pending_key(project_id))
    if not Project.objects.filter(pk=project_id).exists():
        return None
    return agreement_snapshot_create(project_id=project_id).pk
