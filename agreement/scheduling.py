"""Debounced agreement recomputation.

A burst of submits must cause one recomputation, not a pile-up: the first
submit in a window sets a Redis key and queues the job with a countdown of
``AGREEMENT_DEBOUNCE_SECONDS``; later submits in the window find the key and
queue nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from agreement.tasks import agreement_recompute
from web.jobs import enqueue


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
