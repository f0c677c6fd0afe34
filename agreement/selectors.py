"""Reads for the agreement pages and API: snapshots, the review queue, a task under review.

Callers have already checked the caller's role in the project (projects.selectors).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from agreement.models import AgreementSnapshot
from projects.models import Annotation, Project, Task, prompt_snippet


def agreement_latest(*, project: Project) -> AgreementSnapshot | None:
    return AgreementSnapshot.objects.filter(project=project).order_by("-computed_at", "-id").first()


def snapshot_history(*, project: Project, limit: int) -> list[tuple]:
    """``(computed_at, questions)`` of the latest ``limit`` snapshots, oldest first."""
    return list(
        AgreementSnapshot.objects.filter(project=project)
        .order_by("-computed_at", "-id")
        .values_list("computed_at", "data__questions")[:limit]
    )[::-1]


def review_queue(*, project: Project) -> QuerySet[Task]:
    """Disputed tasks, lowest agreement first."""
    return (
        Task.objects.filter(project=project, state=Task.State.DISPUTED)
        .with_agreement()
        .order_by("agreement", "id")
        .only("id", "external_id", "annotation_count", "data", "state", "disputed_questions")
    )


def task_for_review(*, project: Project, task_id: int) -> Task:
    """The task with its agreement, consensus and resolution; 404 outside the project."""
    return get_object_or_404(
        Task.objects.with_agreement().select_related("project").prefetch_related("resolution"),
        pk=task_id,
        project=project,
    )


def task_annotations(*, task: Task) -> list[Annotation]:
    """Every answer to the task, oldest first, with who gave and who reviewed it."""
    return list(
        Annotation.objects.filter(task=task)
        .select_related("annotator", "reviewed_by")
        .order_by("created_at", "id")
    )


def task_annotation(*, task: Task, annotation_id: int) -> Annotation:
    return get_object_or_404(
        Annotation.objects.select_related("annotator"), pk=annotation_id, task=task
    )


def next_disputed(*, project: Project, after: Task) -> Task | None:
    """The disputed task a reviewer takes next: the head of the queue, other than ``after``."""
    return review_queue(project=project).exclude(pk=after.pk).only("id").first()


def lowest_tasks(*, project: Project, rows: list[dict]) -> list[dict]:
    """The snapshot's lowest-agreement tasks with a snippet of each prompt (one query)."""
    ids = [row["task_id"] for row in rows]
    data = dict(Task.objects.filter(project=project, pk__in=ids).values_list("id", "data"))
    return [{**row, "snippet": prompt_snippet(data.get(row["task_id"]))} for row in rows]


def snapshot_since(*, project: Project, since) -> AgreementSnapshot | None:
    """The newest snapshot computed at or after ``since`` (so holding every answer before it)."""
    return (
        AgreementSnapshot.objects.filter(project=project, computed_at__gte=since)
        .order_by("-computed_at", "-id")
        .first()
    )
