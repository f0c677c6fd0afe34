"""The review queue: resolving disputed tasks and judging single annotations."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agreement.models import Resolution
from projects.models import Annotation, Task
from projects.schema import answer_context, validate_values


def resolution_save(*, task: Task, reviewer, values: dict, comment: str = "") -> Resolution:
    """Store the reviewer's answer for the task and mark it resolved."""
    if not Annotation.objects.filter(task=task).exists():
        raise ValidationError(
            {"values": ["This task has no answers yet: there is nothing to resolve."]}
        )
    clean = validate_values(task.project.questions, values, **answer_context(task.data))
    with transaction.atomic():
        resolution, _ = Resolution.objects.update_or_create(
            task=task, defaults={"values": clean, "reviewer": reviewer, "comment": comment}
        )
        Task.objects.filter(pk=task.pk).update(state=Task.State.RESOLVED)
    task.state = Task.State.RESOLVED
    return resolution


def annotation_review(
    *, annotation: Annotation, reviewer, state: str, comment: str = ""
) -> Annotation:
    """Accept or reject one annotation, with a comment its annotator will see."""
    allowed = {Annotation.ReviewState.ACCEPTED, Annotation.ReviewState.REJECTED}
    if state not in allowed:
        raise ValidationError({"review_state": [f"must be one of {', '.join(sorted(allowed))}"]})
    annotation.review_state = state
    annotation.review_comment = comment.strip()
    annotation.reviewed_by = reviewer
    annotation.reviewed_at = timezone.now()
    annotation.save(
        update_fields=["review_state", "review_comment", "reviewed_by", "reviewed_at", "updated_at"]
    )
    return annotation
