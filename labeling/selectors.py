"""Reads for the annotator's own pages."""

from __future__ import annotations

from django.db.models import QuerySet

from projects.models import Annotation, Project


def feedback_for(annotator, project: Project) -> QuerySet[Annotation]:
    """The annotator's reviewed annotations in the project, newest review first."""
    return (
        Annotation.objects.filter(project=project, annotator=annotator)
        .exclude(review_state=Annotation.ReviewState.PENDING)
        .select_related("task", "reviewed_by")
        .order_by("-reviewed_at")
    )
