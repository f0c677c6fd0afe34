"""Where export files are kept: under EXPORT_ROOT, or in the bucket when
S3_BUCKET is set (web/files.py).

Either way the worker writes the file on its local disk first (under
EXPORT_ROOT, as ``<final>.part-<pid>-<random>``) and it reaches its final
place only when complete: renamed into place on local disk, uploaded under
its final key to the bucket (and the part removed). Name and key hold the
export's id and a random nonce, so an export is never another's file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from django.conf import settings

from web import files

from .models import Export

log = logging.getLogger(__name__)

# Export objects' key prefix in the bucket.
KEY_PREFIX = "exports/"
CONTENT_TYPE = "application/jsonl"


def export_path(export: Export) -> Path:
    """The export's local file: its final place on local disk, the worker's
    scratch name (plus ``.part-…``) with a bucket."""
    return (
        Path(settings.EXPORT_ROOT)
        / str(export.project_id)
        / f"export-{export.pk}-{export.nonce.hex}.jsonl"
    )


def export_key(export: Export) -> str:
    return f"{KEY_PREFIX}{export.project_id}/export-{export.pk}-{export.nonce.hex}.jsonl"


def export_store(export: Export, tmp: Path) -> str:
    """Put the complete file ``tmp`` in its final place; return the export's ``file_path``."""
    if files.s3_enabled():
        ref = files.put(tmp, export_key(export), content_type=CONTENT_TYPE)
        tmp.unlink(missing_ok=True)
        return ref
    final = export_path(export)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    return str(final)


def export_discard(export: Export) -> None:
    """Remove the final file of an export that is not ready (an attempt that
    stored it and then failed or died); logged, never raised: the cleanup
    command removes what is left."""
    ref = files.s3_ref(export_key(export)) if files.s3_enabled() else str(export_path(export))
    try:
        files.delete(ref)
    except Exception:
        log.warning("could not remove %s of export %s", ref, export.pk, exc_info=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
