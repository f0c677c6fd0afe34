"""Projects, their tasks, leases and answers.

Invariants live in the database (unique external_id and content per project,
one annotation per task and annotator, one annotation per client UUID) so that
they hold under races that Python checks would miss.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    LEAD = "lead", "Lead"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"


class Project(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    questions = models.JSONField(default=list, help_text="The question schema.")
    overlap = models.PositiveSmallIntegerField(default=3)
    gold_fraction = models.FloatField(default=0.0)
    lease_seconds = models.PositiveIntegerField(default=900)
    agreement_threshold = models.FloatField(
        default=0.5, help_text="Tasks whose agreement falls below this become disputed."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(
                condition=Q(gold_fraction__gte=0) & Q(gold_fraction__lte=1),
                name="project_gold_fraction_0_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def question(self, name: str) -> dict | None:
        return next((q for q in self.questions if q.get("name") == name), None)


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


class TaskQuerySet(models.QuerySet):
    def with_agreement(self) -> TaskQuerySet:
        """Each task with ``agreement`` and ``consensus`` from its TaskAgreement row, or None."""
        return self.annotate(
            agreement=models.F("measured__agreement"), consensus=models.F("measured__consensus")
        )


class Task(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        DISPUTED = "disputed", "Disputed"
        RESOLVED = "resolved", "Resolved"

    # No index of its own: the unique (project, …) indexes already lead with it,
    # and every extra index slows imports.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    external_id = models.CharField(max_length=255)
    data = models.JSONField()
    content_hash = models.CharField(max_length=64)
    is_gold = models.BooleanField(default=False)
    gold = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    annotation_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="task_external_id_unique"
            ),
            models.UniqueConstraint(fields=["project", "content_hash"], name="task_content_unique"),
        ]
        indexes = [
            # The lease query walks open tasks of one kind (gold or not) with the
            # fewest answers first. The only lease index: each submit moves its
            # task within it, and a second one would double that cost.
            models.Index(
                fields=["project", "is_gold", "annotation_count", "id"],
                name="task_lease_gold_order",
                condition=Q(state="open"),
            ),
            models.Index(fields=["project", "state"], name="task_project_state"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.external_id}"




class Annotation(models.Model):
    class ReviewState(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    class Source(models.TextChoices):
        UI = "ui", "Labeling page"
        API = "api", "API"
        IMPORT = "import", "Imported"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    values = models.JSONField()
    client_id = models.UUIDField(default=uuid.uuid4, unique=True)
    lead_time_s = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.UI)
    review_state = models.CharField(
        max_length=16, choices=ReviewState.choices, default=ReviewState.PENDING
    )
    review_comment = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="annotation_unique"),
        ]
        indexes = [
            models.Index(fields=["project", "annotator"], name="annotation_by_annotator"),
        ]

    def __str__(self) -> str:
        return f"annotation {self.pk} on task {self.task_id}"


class AnnotationRevision(models.Model):
    """An earlier version of an annotation, kept when the annotator revises it."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions")
    values = models.JSONField()
    lead_time_s = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField()
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation", "replaced_at"]

    def __str__(self) -> str:
        return f"revision of annotation {self.annotation_id}"
