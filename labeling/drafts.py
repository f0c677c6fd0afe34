"""Drafts kept on the server: the labeling form's state, saved as the annotator types.

The page also keeps a draft in the browser; the server copy is what lets the
annotator continue in another browser or on another machine. Only the holder
of a live lease (or the author of the answer being revised) may write one.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.utils import timezone

from labeling.models import Draft
from projects.models import Task

# A draft is the form's text: generous for long corrections, bounded for the database.
MAX_DRAFT_BYTES = 256 * 1024


def draft_save(*, task: Task, annotator, fields: Any) -> Draft:
    if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
        raise ValidationError({"fields": ["must be an object keyed by form field name"]})
    if len(orjson.dumps(fields)) > MAX_DRAFT_BYTES:
        raise ValidationError({"fields": [f"a draft may hold at most {MAX_DRAFT_BYTES} bytes"]})
    draft, _ = Draft.objects.update_or_create(
        task=task, annotator=annotator, defaults={"fields": fields, "saved_at": timezone.now()}
    )
    return draft


def draft_of(*, task: Task, annotator) -> Draft | None:
    return Draft.objects.filter(task=task, annotator=annotator).first()


def draft_discard(*, task_id: int, annotator) -> None:
    """Forget the draft once its answer is stored (a skipped task keeps it for an undo)."""
    Draft.objects.filter(task_id=task_id, annotator=annotator).delete()
