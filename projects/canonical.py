"""The canonical task and its content hash.

Every importer normalises its file shape to the canonical task of DESIGN.md;
the hash of the canonical ``data`` is what makes duplicates visible and
re-imports idempotent, so it must never change for the same data.
"""

from __future__ import annotations

import hashlib

import orjson


def task_content_hash(data: dict) -> str:
    """sha256 of the task data serialised with sorted keys."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
