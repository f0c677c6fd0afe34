"""Removing partial export files that no running export is writing.

An export writes ``<final>.part-<pid>-<random>`` and renames it when done; a
worker killed mid-write leaves the part behind. A part whose last write is
older than the task's hard time limit cannot belong to a live attempt.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)


def stale_after_default() -> timedelta:
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + timedelta(minutes=10)


def partial_files_cleanup(*, stale_after: timedelta | None = None) -> list[Path]:
    """Delete ``.part-*`` files under EXPORT_ROOT untouched for ``stale_after``."""
    root = Path(settings.EXPORT_ROOT)
    if not root.is_dir():
        return []
    cutoff = time.time() - (stale_after or stale_after_default()).total_seconds()
    removed = []
    for path in root.glob("*/*.part-*"):
        try:
            if not path.is_file() or path.stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        log.info("removed %d partial export files", len(removed))
    return removed
