"""Exports: immutable JSONL snapshots of a project, and the read-only tokens
training jobs use to fetch them."""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from projects.models import Project


class Export(models.Model):
    class Format(models.TextChoices):
        SFT = "sft", "SFT (chat messages)"
        ALPACA = "alpaca", "Alpaca (instruction, input, output)"
        PREFERENCE = "preference", "Preference (prompt, chosen, rejected)"
        ANNOTATIONS = "annotations", "Annotations (audit, research)"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=16, choices=Format.choices)
    filters = models.JSONField(default=dict, blank=True)
    # A random part of the file name: a new export is always a new file, even
    # when several databases share one EXPORT_ROOT.
    nonce = models.UUIDField(default=uuid.uuid4, editable=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    progress = models.FloatField(default=0.0)
    row_count = models.PositiveBigIntegerField(default=0)
    # Tasks the export left out, by reason ({"incomplete": 3, "tie": 1, ...}).
    excluded = models.JSONField(default=dict, blank=True)
    bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    schema = models.JSONField(default=list, blank=True, help_text="The questions at export time.")
    file_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Recovery (web/jobs.py): the running worker's last sign of life, and when
    # the job's message last went to the broker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    JOB_MESSAGE_FIELD = "error"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["project", "format", "state", "-finished_at"], name="export_latest"
            ),
        ]
        constraints = [
            # A ready export always names its whole, verified file.
            models.CheckConstraint(
                condition=~Q(state="ready") | (~Q(sha256="") & ~Q(file_path="")),
                name="export_ready_has_file",
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}) of {self.project_id}"

    @property
    def is_finished(self) -> bool:
        return self.state in {self.State.READY, self.State.FAILED}

    @property
    def filename(self) -> str:
        return f"{self.project.slug}-{self.format}-{self.pk}.jsonl"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ExportToken(models.Model):
    """A project-scoped, read-only credential for training jobs.

    Only the sha256 of the token is stored; the raw value is shown once.
    """

    PREFIX = "qex_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="export_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=12, help_text="The first characters, to recognise it.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
