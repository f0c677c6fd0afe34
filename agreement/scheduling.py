"""Debounced agreement recomputation.

A burst of submits must cause one recomputation, not a pile-up: the first
submit in a window sets a Redis key and queues the job with a countdown;
later submits in the window find the key and queue nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from annotator.celery import app

DEBOUNCE_SECONDS = getattr(settings, "AGREEMENT_DEBOUNCE_SECONDS", 5)
RECOMPUTE_TASK = "projects.agreement.tasks.agreement_recompute"


def pending_key(project_id: int) -> str:
    return f"agreement:pending:{project_id}"


def agreement_refresh_later(project_id: int) -> bool:
    """Queue one recomputation for the project unless one is already pending."""
    if not cache.add(pending_key(project_id), 1, timeout=DEBOUNCE_SECONDS + 60):
        return False
    app.send_task(RECOMPUTE_TASK, args=[project_id], countdown=DEBOUNCE_SECONDS)
    return True


def agreement_refresh_now(project_id: int) -> None:
    """Queue a recomputation to run at once (the lead pressed Refresh)."""
    app.send_task(RECOMPUTE_TASK, args=[project_id])
