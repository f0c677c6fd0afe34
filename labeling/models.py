"""Leases: which annotator holds which task, until when."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from projects.models import Project, Task


class Assignment(models.Model):
    """A lease of one task to one annotator."""

    class State(models.TextChoices):
        LEASED = "leased", "Leased"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        RELEASED = "released", "Released"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.LEASED)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    skip_reason = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "projects_assignment"
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="assignment_unique"),
        ]
        indexes = [
            models.Index(fields=["project", "annotator", "state"], name="assignment_mine"),
            models.Index(fields=["task", "state", "expires_at"], name="assignment_active"),
        ]

    def __str__(self) -> str:
        return f"task {self.task_id} -> user {self.annotator_id} ({self.state})"


class Draft(models.Model):
    """An answer being written, as the labeling form holds it, so it survives another browser.

    ``fields`` is the form's state (field name to value or checked values, plus the
    time spent), not a validated answer: it is checked only when submitted.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    fields = models.JSONField()
    saved_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="draft_unique"),
        ]

    def __str__(self) -> str:
        return f"draft of user {self.annotator_id} on task {self.task_id}"
