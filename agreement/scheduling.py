"""Debounced agreement recomputation.

A burst of submits must cause one recomputation, not a pile-up: the first
submit in a window sets a Redis key and queues the job with a countdown of
``AGREEMENT_DEBOUNCE_SECONDS``; later submits in the window find the key and
queue nothing.

Redis is only a helper here: with it down, the key cannot be set, nothing is
queued and the answer is stored all the same; ``agreement_catch_up`` (run by
the sweeper) later finds projects whose newest answers are newer than their
latest snapshot and queues them.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from agreement.models import AgreementSnapshot
from agreement.tasks import agreement_recompute
from projects.models import Annotation, AnnotationRevision
from web.jobs import enqueue, send


def pending_key(project_id: int) -> str:
    return f"agreement:pending:{project_id}"


def agreement_refresh_later(project_id: int) -> bool:
    """Queue one recomputation for the project unless one is already pending.

    Sets the project's pending key; the job clears it when it starts.
    """
    # Read at call time, so that tests (and a settings change) can shorten it.
    debounce = settings.AGREEMENT_DEBOUNCE_SECONDS
    if not cache.add(pending_key(project_id), 1, timeout=debounce + 60):
        return False
    enqueue(agreement_recompute, project_id, countdown=debounce)
    return True


def agreement_refresh_now(project_id: int) -> None:
    """Queue a recomputation to run at once (the lead pressed Refresh)."""
    enqueue(agreement_recompute, project_id)


def _recently_changed(window: int) -> dict[int, object]:
    """Project id -> newest answer time among the latest ``window`` answers and
    revisions (a range of the primary key: cheap however large the tables)."""
    changed: dict[int, object] = {}
    sources = (
        (Annotation.objects, "project_id", "updated_at"),
        (AnnotationRevision.objects, "annotation__project_id", "replaced_at"),
    )
    for manager, project, at in sources:
        top = manager.aggregate(top=Max("id"))["top"]
        if top is None:
            continue
        latest = (
            manager.filter(id__gt=top - window).values_list(project).annotate(at=Max(at)).order_by()
        )
        for project_id, when in latest:
            if project_id not in changed or when > changed[project_id]:
                changed[project_id] = when
    return changed


def agreement_catch_up() -> int:
    """Queue a recomputation for each project whose newest answers are newer
    than its latest snapshot and older than ``AGREEMENT_CATCHUP_AFTER_SECONDS``
    (younger ones still have their debounced job coming). Returns how many
    were queued. Needs the cache (the pending key) and the broker; without
    them it queues nothing and the next sweep tries again.
    """
    changed = _recently_changed(settings.AGREEMENT_CATCHUP_WINDOW)
    settled = timezone.now() - timedelta(seconds=settings.AGREEMENT_CATCHUP_AFTER_SECONDS)
    changed = {pid: at for pid, at in changed.items() if at < settled}
    if not changed:
        return 0
    computed = dict(
        AgreementSnapshot.objects.filter(project_id__in=changed)
        .values_list("project_id")
        .annotate(at=Max("computed_at"))
        .order_by()
    )
    queued = 0
    debounce = settings.AGREEMENT_DEBOUNCE_SECONDS
    for project_id, at in sorted(changed.items()):
        if project_id in computed and computed[project_id] >= at:
            continue
        if not cache.add(pending_key(project_id), 1, timeout=debounce + 60):
            continue  # one is pending, or the cache is down
        if send(agreement_recompute, project_id):
            queued += 1
        else:
            cache.delete(pending_key(project_id))
            break
    return queued
