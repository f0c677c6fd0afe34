"""How every background job is queued, claimed, kept alive and recovered.

A job queued inside a transaction must not start before the rows it reads
are committed (a worker would find nothing, or old data), and must not start
at all if the transaction rolls back. Outside a transaction it is queued at
once. Every area queues through ``enqueue`` so that this holds everywhere and
broker trouble is handled in one place: a broker that cannot be reached is
logged and the request goes on, because the job's row in PostgreSQL is the
truth and the sweeper sends queued rows again (``sweep_jobs``).

Job rows (``ImportJob``, ``Export``) share a lifecycle: ``queued`` →
``running`` (claimed by one worker, ``attempts`` + 1) → finished. While it
runs, the worker touches ``heartbeat_at`` every ``JOB_HEARTBEAT_SECONDS``; a
running row whose heartbeat is older than ``JOB_STALE_SECONDS`` lost its
worker and goes back to ``queued`` (or ``failed`` after ``JOB_MAX_ATTEMPTS``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone

from web import rows, sql

log = logging.getLogger(__name__)

QUEUED, RUNNING, FAILED = "queued", "running", "failed"


def send(task: Task, *args: Any, countdown: float | None = None) -> bool:
    """Queue ``task(*args)`` now; False (logged) when the broker cannot take it."""
    try:
        task.apply_async(args=args, countdown=countdown)
    except Exception:  # kombu raises OperationalError, redis-py its own, OSError below both
        log.warning("broker unavailable: %s%s not queued now", task.name, args, exc_info=True)
        return False
    return True


def enqueue(task: Task, *args: Any, countdown: float | None = None) -> None:
    """Queue ``task(*args)`` once the current transaction commits.

    Never raises for broker trouble: the job's row stays ``queued`` and the
    sweeper sends it again.
    """
    transaction.on_commit(lambda: send(task, *args, countdown=countdown))


# --- one job row's lifecycle -------------------------------------------------------


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS)


def claim(model: type[Model], pk: int) -> bool:
    """Make the job ``running`` for this worker; False if it is not ours to run.

    Only a queued job, or a running one whose worker stopped beating, can be
    claimed: a message delivered twice (a resend, a redelivery) never runs a
    job twice at once.
    """
    now = timezone.now()
    claimable = Q(state=QUEUED) | Q(state=RUNNING, heartbeat_at__lt=_stale_before())
    with transaction.atomic():
        job = model.objects.select_for_update().filter(claimable, pk=pk).first()
        if job is None:
            return False
        model.objects.filter(pk=pk).update(
            state=RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempts=job.attempts + 1,
            progress=0.0,
        )
    return True


class Heartbeat:
    """Touches the job row's ``heartbeat_at`` from a thread while the job runs.

    It uses a connection of its own in autocommit, so the beat is visible
    while the job's own transaction is still open.
    """

    def __init__(self, model: type[Model], pk: int):
        self.table = model._meta.db_table
        self.pk = pk
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"heartbeat-{pk}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        statement = sql.job_heartbeat(self.table, RUNNING)
        interval = settings.JOB_HEARTBEAT_SECONDS
        conn = None
        while not self.stop.wait(interval):
            try:
                if conn is None:
                    conn = rows.connect(autocommit=True)
                    # Never queue behind the job's own lock on its row.
                    conn.execute("SET lock_timeout = '2s'")
                conn.execute(statement, (self.pk,))
            except Exception:
                log.warning("heartbeat of %s %s not written", self.table, self.pk, exc_info=True)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


# --- recovery ------------------------------------------------------------------------


def sweep_jobs(
    model: type[Model],
    task: Task,
    *,
    what: str,
    on_given_up: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Recover the model's jobs: dead workers and lost messages.

    - running, heartbeat older than ``JOB_STALE_SECONDS``: back to queued and
      sent again, or failed with a message after ``JOB_MAX_ATTEMPTS`` attempts
      (then ``on_given_up(pk)`` runs, e.g. to remove the job's files: only a
      job that will not run again may lose them);
    - queued, last sent more than ``JOB_RESEND_SECONDS`` ago (or never): sent
      again. A copy of a message still in the broker is harmless: ``claim``
      lets only one run.
    """
    now = timezone.now()
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    max_attempts = settings.JOB_MAX_ATTEMPTS
    stale_before = _stale_before()
    stale = model.objects.filter(state=RUNNING).filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True, started_at__lt=stale_before)
    )
    for job in stale.only("pk", "attempts"):
        if job.attempts >= max_attempts:
            changed = model.objects.filter(pk=job.pk, state=RUNNING).update(
                state=FAILED,
                finished_at=now,
                **{model.JOB_MESSAGE_FIELD: _given_up(what, job.attempts)},
            )
            counts["failed"] += changed
            log.warning("%s %s failed: its worker died %s times", what, job.pk, job.attempts)
            if changed and on_given_up is not None:
                on_given_up(job.pk)
        else:
            counts["requeued"] += model.objects.filter(pk=job.pk, state=RUNNING).update(
                state=QUEUED, sent_at=None
            )
            log.warning("%s %s: its worker stopped; queued again", what, job.pk)
    resend_before = now - timedelta(seconds=settings.JOB_RESEND_SECONDS)
    # A row never sent (the broker was down when it was created) waits as long
    # as one sent: its creator may be sending it right now.
    waiting = model.objects.filter(state=QUEUED).filter(
        Q(sent_at__lt=resend_before) | Q(sent_at__isnull=True, created_at__lt=resend_before)
    )
    for pk in waiting.values_list("pk", flat=True):
        if not send(task, pk):
            break  # the broker is down: try again at the next sweep
        model.objects.filter(pk=pk, state=QUEUED).update(sent_at=timezone.now())
        counts["resent"] += 1
    return counts


def _given_up(what: str, attempts: int) -> str:
    return (
        f"The worker running this {what} stopped (killed or crashed) {attempts} times; "
        f"it was given up. Start the {what} again."
    )


def mark_sent(model: type[Model], pk: int) -> None:
    """Record that the job's message went to the broker (after commit)."""
    model.objects.filter(pk=pk, state=QUEUED).update(sent_at=timezone.now())


def enqueue_job(model: type[Model], task: Task, pk: int) -> None:
    """Queue a job row's task after commit; ``sent_at`` records a successful send.

    A row whose send failed keeps ``sent_at`` empty, and the next sweep sends it.
    """

    def go() -> None:
        if send(task, pk):
            mark_sent(model, pk)

    transaction.on_commit(go)
