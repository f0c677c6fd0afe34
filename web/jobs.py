"""How every background job is queued: by reference to its task, after commit.

A job queued inside a transaction must not start before the rows it reads
are committed (a worker would find nothing, or old data), and must not start
at all if the transaction rolls back. Outside a transaction it is queued at
once. Every area queues through ``enqueue`` so that this holds everywhere and
broker trouble is handled in one place.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from django.db import transaction


def enqueue(task: Task, *args: Any, countdown: float | None = None) -> None:
    """Queue ``task(*args)`` once the current transaction commits."""
    transaction.on_commit(lambda: task.apply_async(args=args, countdown=countdown))
