"""What agreement computes and reviewers decide: snapshots, per-task results, resolutions.

The tables keep the names they had before agreement became an app of its own.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from projects.models import Project, Task


class TaskAgreement(models.Model):
    """A task's agreement and consensus from the latest recomputation.

    Kept apart from Task so that a recomputation rewrites narrow rows with one
    index instead of every wide task row and its four indexes (see
    docs/agreement.md); only a change of state (complete <-> disputed) touches
    the task itself. No foreign key constraint in the database: checking it
    costs a quarter of a first recomputation, and the rows are derived data
    that Django's cascade deletes with their task.
    """

    task = models.OneToOneField(
        Task,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="measured",
        db_constraint=False,
    )
    agreement = models.FloatField(null=True, blank=True)
    consensus = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "projects_taskagreement"

    def __str__(self) -> str:
        return f"agreement of task {self.task_id}"


class AgreementSnapshot(models.Model):
    """One computation of a project's agreement and quality figures."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="agreement_snapshots"
    )
    computed_at = models.DateTimeField(db_index=True)
    duration_s = models.FloatField(default=0.0)
    data = models.JSONField()

    class Meta:
        db_table = "projects_agreementsnapshot"
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"agreement of {self.project_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class Resolution(models.Model):
    """A reviewer's final answer for a disputed task."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="resolution")
    values = models.JSONField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "projects_resolution"

    def __str__(self) -> str:
        return f"resolution of task {self.task_id}"
