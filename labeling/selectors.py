"""Reads for the annotator's own pages."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Aggregate, Count, F, FloatField, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from labeling.models import Assignment
from projects.models import Annotation, Project, Task
from projects.selectors import LABEL_ROLES


class Median(Aggregate):
    """PostgreSQL's median of a column."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


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


def team_activity(*, project: Project, now) -> list[dict]:
    """Per member who labels: answers today, this week and in all, skips, median seconds
    per task and active leases, in three queries however large the team.

    "Today" and "this week" are in the server's time zone (TIME_ZONE); the week starts on
    Monday.
    """
    local = timezone.localtime(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    answers = {
        row["annotator_id"]: row
        for row in Annotation.objects.filter(project=project)
        .values("annotator_id")
        .annotate(
            total=Count("id"),
            today=Count("id", filter=Q(created_at__gte=today)),
            week=Count("id", filter=Q(created_at__gte=week)),
            median_s=Median(F("lead_time_s")),
        )
    }
    leases = {
        row["annotator_id"]: row
        for row in Assignment.objects.filter(project=project)
        .values("annotator_id")
        .annotate(
            skips=Count("id", filter=Q(state=Assignment.State.SKIPPED)),
            active=Count("id", filter=Q(state=Assignment.State.LEASED, expires_at__gt=now)),
        )
    }
    members = (
        project.memberships.filter(role__in=LABEL_ROLES)
        .select_related("user")
        .order_by("user__username")
    )
    people = {m.user_id: m.user.username for m in members}
    # Former members keep their answers: name them too (no query when there are none).
    gone = (set(answers) | set(leases)) - set(people)
    people.update(get_user_model().objects.filter(pk__in=gone).values_list("id", "username"))
    rows = []
    for uid, name in people.items():
        a, lease = answers.get(uid, {}), leases.get(uid, {})
        rows.append(
            {
                "annotator_id": uid,
                "username": name,
                "today": a.get("today", 0),
                "week": a.get("week", 0),
                "total": a.get("total", 0),
                "median_s": a.get("median_s"),
                "skips": lease.get("skips", 0),
                "active_leases": lease.get("active", 0),
            }
        )
    rows.sort(key=lambda r: (-r["total"], r["username"]))
    return rows
