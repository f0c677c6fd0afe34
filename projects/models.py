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


def default_skip_reasons() -> list[str]:
    return [
        "The instructions do not cover this case",
        "Not enough context to judge",
        "Outside my knowledge",
        "Harmful content I will not judge",
    ]


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
    class TaskOrder(models.TextChoices):
        COMPLETE_FIRST = "complete_first", "Complete started tasks first"
        SPREAD = "spread", "Fewest answers first"
        RANDOM = "random", "Random"

    overlap = models.PositiveSmallIntegerField(
        default=3, help_text="Answers a task needs when they agree."
    )
    # Null: the same as overlap (no adaptive overlap).
    overlap_max = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Answers a task may get while they disagree."
    )
    task_order = models.CharField(
        max_length=16,
        choices=TaskOrder.choices,
        default=TaskOrder.COMPLETE_FIRST,
        db_default=TaskOrder.COMPLETE_FIRST,
        help_text="Which task an annotator is offered next.",
    )
    shuffle_responses = models.BooleanField(
        default=True,
        db_default=True,
        help_text="Each annotator sees the responses in an order of their own.",
    )
    gold_fraction = models.FloatField(default=0.0)
    lease_seconds = models.PositiveIntegerField(default=900)
    skip_reasons = models.JSONField(
        default=default_skip_reasons,
        blank=True,
        help_text="Reasons offered in the skip dialog; annotators may also write their own.",
    )
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
                condition=Q(overlap_max__isnull=True) | Q(overlap_max__gte=models.F("overlap")),
                name="project_overlap_max_at_least_overlap",
            ),
            models.CheckConstraint(
                condition=Q(gold_fraction__gte=0) & Q(gold_fraction__lte=1),
                name="project_gold_fraction_0_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def max_overlap(self) -> int:
        """The most answers a task may get: ``overlap_max``, or ``overlap`` when unset."""
        return max(self.overlap_max or self.overlap, self.overlap)

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


SNIPPET_CHARS = 80


def prompt_snippet(data, length: int = SNIPPET_CHARS) -> str:
    """The instruction, or the first user turn, or the input, on one line and cut to ``length``."""
    data = data if isinstance(data, dict) else {}
    candidates = [data.get("instruction")]
    messages = data.get("messages")
    if isinstance(messages, list):
        candidates += [
            m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"
        ][:1]
    candidates.append(data.get("input"))
    text = next((c for c in candidates if isinstance(c, str) and c.strip()), "")
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


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
    # The answers the task needs now; null means the project's overlap. It grows
    # by one while the answers disagree, up to the project's overlap_max.
    target_overlap = models.PositiveSmallIntegerField(null=True, blank=True)
    # Names of the questions whose answers disagree (null: none).
    disputed_questions = models.JSONField(null=True, blank=True)
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
            # Counts per state, and the random order's walk from a random id.
            models.Index(
                fields=["project", "state", "is_gold", "id"], name="task_project_state_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.external_id}"

    @property
    def snippet(self) -> str:
        """The start of the prompt, which is how people tell tasks apart (ids are often hashes)."""
        return prompt_snippet(self.data)


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
    # The order the responses were shown in (canonical indices, first shown first);
    # null when shown as stored. ``values`` always refer to the stored order.
    shown_order = models.JSONField(null=True, blank=True)
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
    # The review decision the replaced version had: a revision goes back to review.
    review_state = models.CharField(
        max_length=16, choices=Annotation.ReviewState.choices, blank=True, default=""
    )
    created_at = models.DateTimeField()
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation", "replaced_at"]

    def __str__(self) -> str:
        return f"revision of annotation {self.annotation_id}"
