"""The sweeper: recovers what a dead worker or a lost Redis left behind.

Each app that needs it has a ``sweep.py`` whose functions are registered with
``@sweeper.register``; ``sweep_all`` runs them all. Every Celery worker runs
it every ``JOB_SWEEP_SECONDS`` from a thread of its main process (started when
the worker is ready), so no extra process has to be remembered, and it works
while the broker is down; ``manage.py sweep_jobs`` runs it by hand or from cron.
Workers take turns through a PostgreSQL advisory lock, so several of them
never sweep at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection, connections
from django.utils.module_loading import autodiscover_modules

log = logging.getLogger(__name__)

LOCK_KEY = 0x51535745  # "QSWE"
_sweepers: dict[str, Callable[[], dict]] = {}
_stop = threading.Event()


def register(fn: Callable[[], dict]) -> Callable[[], dict]:
    _sweepers[f"{fn.__module__}.{fn.__name__}"] = fn
    return fn


def sweep_all() -> dict[str, dict] | None:
    """Run every registered sweep once; None when another process is sweeping."""
    autodiscover_modules("sweep")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            return None
    try:
        results = {}
        for name, fn in sorted(_sweepers.items()):
            try:
                results[name] = fn()
            except Exception:
                log.exception("sweep %s failed", name)
                results[name] = {"error": 1}
        return results
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def _loop() -> None:
    delay = 0.0  # a worker that starts sweeps at once: it may replace a dead one
    while not _stop.wait(delay):
        delay = settings.JOB_SWEEP_SECONDS
        try:
            results = sweep_all()
            if results and any(any(counts.values()) for counts in results.values()):
                log.info("sweep: %s", results)
        except Exception:
            log.exception("sweep failed")
        finally:
            # No connection stays open in this thread between sweeps, so a pool
            # child forked meanwhile inherits none of it.
            connections.close_all()


def start_in_worker(**kwargs) -> None:
    """``worker_ready`` receiver: sweep now and then every JOB_SWEEP_SECONDS."""
    _stop.clear()
    threading.Thread(target=_loop, name="quorum-sweeper", daemon=True).start()


def stop_in_worker(**kwargs) -> None:
    _stop.set()
