"""Import jobs: one uploaded file on its way into a project's tasks."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from projects.models import Project

from .shapes import SHAPE_NAMES


class ImportJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_path = models.CharField(max_length=500)
    filename = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    shape = models.CharField(max_length=32, default="auto")
    mapping = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    progress = models.FloatField(default=0.0)
    lines = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    detected_shape = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Recovery (web/jobs.py): runs so far, the running worker's last sign of
    # life, and when the job's message last went to the broker.
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    JOB_MESSAGE_FIELD = "message"

    class Meta:
        db_table = "projects_importjob"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.filename}"

    @property
    def shape_name(self) -> str:
        """The shape as people call it ("Anthropic HH", not "hh")."""
        shape = self.detected_shape or self.shape
        return SHAPE_NAMES.get(shape, shape)

    @property
    def is_finished(self) -> bool:
        return self.state in {self.State.DONE, self.State.FAILED}
