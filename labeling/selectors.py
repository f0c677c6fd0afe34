"""Reads for the annotator's own pages."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from labeling.models import Assignment
from projects.models import Annotation, Project, Task


def feedback_for(annotator, project: Project) -> QuerySet[Annotation]:
    """The annotator's reviewed annotations in the project, newest review first."""
    return (
        Annotation.objects.filter(project=project, annotator=annotator)
        .exclude(review_state=Annotation.ReviewState.PENDING)
        .select_related("task", "reviewed_by")
        .order_by("-reviewed_at")
    )


def answers_of(annotator, project: Project) -> QuerySet[Annotation]:
    """The annotator's answers in the project, newest first, with their revision counts."""
    return (
        Annotation.objects.filter(project=project, annotator=annotator)
        .select_related("task")
        .annotate(revision_count=Count("revisions"))
        .order_by("-created_at", "-id")
    )


def own_answer(annotator, project: Project, annotation_id: int) -> Annotation:
    """One of the annotator's own answers; 404 for anyone else's."""
    return get_object_or_404(
        Annotation.objects.select_related("task", "task__project"),
        pk=annotation_id,
        project=project,
        annotator=annotator,
    )


def own_lease(annotator, project: Project, assignment_id: int) -> Assignment:
    """One of the annotator's own leases; 404 for anyone else's."""
    return get_object_or_404(Assignment, pk=assignment_id, project=project, annotator=annotator)


def lease_of(annotator, task: Task) -> Assignment | None:
    """The annotator's lease on the task, if any (whatever its state)."""
    return Assignment.objects.filter(task=task, annotator=annotator).first()
