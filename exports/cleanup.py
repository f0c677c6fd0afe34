"""Removing export files that no export will serve.

An export writes ``<final>.part-<pid>-<random>`` on the worker's disk and
renames (or uploads) it when done; a worker killed mid-write leaves the part
behind. A part whose last write is older than the task's hard time limit
cannot belong to a live attempt.

A failed export removes its stored file as it fails, and so does the sweeper
when it gives an export up; ``failed_files_cleanup`` is the safety net for a
removal that failed (the bucket was unreachable). It goes through the storage
(local disk or the bucket) and only touches files whose name holds the id and
nonce of a failed export of this database: an installation sharing the root or
the bucket keeps its files.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from web import files

from .models import Export
from .storage import KEY_PREFIX

log = logging.getLogger(__name__)

FINAL_NAME = re.compile(r"export-([0-9]+)-([0-9a-f]{32})\.jsonl\Z")


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


def _stored() -> Iterator[str]:
    """References of every stored export file, in the bucket or under EXPORT_ROOT."""
    if files.s3_enabled():
        for ref, _ in files.listing(KEY_PREFIX):
            yield ref
        return
    root = Path(settings.EXPORT_ROOT)
    if root.is_dir():
        yield from (str(path) for path in root.glob("*/export-*.jsonl"))


def failed_files_cleanup() -> list[str]:
    """Delete the stored files of failed exports; return their references."""
    found: dict[int, tuple[str, str]] = {}
    for ref in _stored():
        match = FINAL_NAME.search(ref)
        if match:
            found[int(match[1])] = (match[2], ref)
    failed = Export.objects.filter(pk__in=found, state=Export.State.FAILED)
    removed = []
    for pk, nonce in failed.values_list("pk", "nonce"):
        wanted, ref = found[pk]
        if nonce.hex == wanted:
            files.delete(ref)
            removed.append(ref)
    if removed:
        log.info("removed %d files of failed exports", len(removed))
    return removed
