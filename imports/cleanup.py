"""Removing uploaded import files once nothing needs them.

An upload is only read by its job: once the job is done or failed for good
the file is dead weight (its tasks are in the database, its errors on the job
row), so the job removes it as it ends (``upload_discard``). A job still
queued or running keeps it: a retry after a dead worker reads it again.
``uploads_cleanup`` is the safety net (``manage.py cleanup_files``): it removes
the uploads of finished jobs that are still there, and a file with no job row
at all, left by a request that failed after the upload was stored, once it is
older than ``orphan_after``. Both work on local disk and in the bucket.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from imports.models import ImportJob
from web import files

log = logging.getLogger(__name__)

# Uploads' key prefix in the bucket (web/files.py).
UPLOAD_PREFIX = "imports/"
FINISHED = {ImportJob.State.DONE, ImportJob.State.FAILED}


def upload_folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def is_upload(ref: str) -> bool:
    """Whether ``ref`` names a stored upload (a job may also name any other file)."""
    if files.is_s3(ref):
        return files.s3_parts(ref)[1].startswith(UPLOAD_PREFIX)
    return Path(ref).parent == upload_folder()


def upload_discard(ref: str) -> None:
    """Remove a finished job's upload; a file that is not an upload is left alone."""
    if not is_upload(ref):
        return
    try:
        files.delete(ref)
    except Exception:  # the safety net removes it later
        log.warning("could not remove the upload %s", ref, exc_info=True)


def _stored() -> Iterator[tuple[str, float]]:
    """(reference, last modified as a Unix time) of every stored upload."""
    if files.s3_enabled():
        yield from files.listing(UPLOAD_PREFIX)
        return
    folder = upload_folder()
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.is_file():
            try:
                yield str(path), path.stat().st_mtime
            except FileNotFoundError:
                continue


def uploads_cleanup(*, orphan_after: timedelta = timedelta(hours=1)) -> list[Path | str]:
    """Delete the uploads of finished import jobs and old orphans; return what was
    removed (local paths, or ``s3://`` references)."""
    cutoff = time.time() - orphan_after.total_seconds()
    removed: list[Path | str] = []
    stored = list(_stored())
    states = dict(
        ImportJob.objects.filter(file_path__in=[ref for ref, _ in stored]).values_list(
            "file_path", "state"
        )
    )
    for ref, modified in stored:
        state = states.get(ref)
        if state is None:
            if modified > cutoff:
                continue  # its job row may not be committed yet
        elif state not in FINISHED:
            continue
        files.delete(ref)
        removed.append(ref if files.is_s3(ref) else Path(ref))
    if removed:
        log.info("removed %d uploaded import files", len(removed))
    return removed
