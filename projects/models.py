"""Projects, their tasks, leases and answers.

Invariants live in the database (unique external_id and content per project,
one annotation per task and annotator, one annotation per client UUID) so that
they hold under races that Python checks would miss.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
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
    # Null: a task completes when its answers agree (docs/labeling.md).
    stop_confidence = models.FloatField(
        null=True,
        blank=True,
        help_text=(
            "Complete a task once each question's consensus is at least this likely, "
            "weighing every answer by its annotator's estimated accuracy. "
            "Empty: complete when the answers agree."
        ),
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
            models.CheckConstraint(
                condition=Q(stop_confidence__isnull=True)
                | (Q(stop_confidence__gt=0.5) & Q(stop_confidence__lt=1)),
                name="project_stop_confidence_range",
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
    # The share of right answers estimated by the latest agreement snapshot
    # (null: not estimated yet); weighs answers under stop_confidence.
    accuracy = models.FloatField(null=True, blank=True)

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
    # The import job that stored the task (null: added another way). A plain
    # column, not a foreign key: ImportJob lives in the imports app, above this
    # one, and a constraint would add a check to every imported row.
    import_id = models.BigIntegerField(null=True, blank=True)
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
            # The task browser's import filter, in id order: without it the page of
            # a late import walks every earlier task (330 ms at a million). Each
            # import appends to its right end, which costs an import about 3%.
            models.Index(
                fields=["import_id", "id"],
                name="task_import_order",
                condition=Q(import_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.external_id}"

    @property
    def snippet(self) -> str:
        """The start of the prompt, which is how people tell tasks apart (ids are often hashes)."""
        return prompt_snippet(self.data)


class TaskWords(models.Model):
    """The words of a task's prompt, which the task browser's search reads
    (``projects.sql.TASK_SEARCH_WORDS``, GIN-indexed).

    Written after the tasks, not with them (``projects.services.task_words_fill``):
    an index of the words on the task table made imports a third slower or more.
    Every task of a project up to its highest ``task_id`` here has its row; the
    tasks after it are searched without the index until the next fill. The
    database drops a row with its task (``ON DELETE CASCADE``, migration 0009).
    """

    task = models.OneToOneField(
        Task, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    project = models.ForeignKey(
        Project,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    words = SearchVectorField()

    class Meta:
        indexes = [
            GinIndex(fields=["words"], name="task_words_search"),
            # A project's highest task id with words: where the unindexed tail starts.
            models.Index(fields=["project", "task"], name="task_words_project_task"),
        ]

    def __str__(self) -> str:
        return f"words of task {self.task_id}"


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
