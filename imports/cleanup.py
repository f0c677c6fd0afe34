"""Removing uploaded import files once nothing needs them.

An upload is only read by its job: once the job is done or failed the file is
dead weight (its tasks are in the database, its errors on the job row). A file
with no job row at all is left by a request that failed after the upload was
moved into place; it goes once it is older than ``orphan_after``.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from imports.models import ImportJob

log = logging.getLogger(__name__)


def upload_folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def uploads_cleanup(*, orphan_after: timedelta = timedelta(hours=1)) -> list[Path]:
    """Delete the uploads of finished import jobs and old orphans; return what was removed."""
    folder = upload_folder()
    if not folder.is_dir():
        return []
    jobs = ImportJob.objects.filter(file_path__startswith=str(folder))
    states = dict(jobs.values_list("file_path", "state"))
    finished = {ImportJob.State.DONE, ImportJob.State.FAILED}
    cutoff = time.time() - orphan_after.total_seconds()
    removed = []
    for path in folder.iterdir():
        if not path.is_file():
            continue
        state = states.get(str(path))
        if state is None:
            try:
                if path.stat().st_mtime > cutoff:
                    continue  # its job row may not be committed yet
            except FileNotFoundError:
                continue
        elif state not in finished:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        log.info("removed %d uploaded import files", len(removed))
    return removed
