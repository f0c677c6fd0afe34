"""The lead's task browser: searching and filtering a project's tasks, and one task in full.

Pages are keyset pages (``after`` the last id shown): no COUNT(*) and no OFFSET,
so the last page of a million tasks costs what the first does.
"""

from __future__ import annotations

import re

from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404
from django.utils import timezone

from agreement.sql import TASK_SEARCH_MATCH
from labeling.models import Assignment
from projects.models import Annotation, AnnotationRevision, Project, Task
from projects.selectors import tasks_filtered
from projects.sql import TASK_SEARCH_CHARS, TASK_SEARCH_TEXT

PAGE_SIZE = 50
FILTERS = (
    "q",
    "state",
    "agreement_min",
    "agreement_max",
    "question",
    "annotator",
    "is_gold",
    "import",
    "after",
)
# What the search page says it does (the template shows it; docs/agreement.md too).
SEARCH_HELP = (
    f"Finds tasks whose prompt (its first {TASK_SEARCH_CHARS:,} characters) has every word, "
    "whole or as the start of a longer one: otter finds Otters. "
    'Put words in "double quotes" to find them together, exactly as typed.'
)
# Letters and digits; anything else separates words (as the index's parser does,
# mostly), so user input never reaches to_tsquery's own syntax.
_WORD = re.compile(r"[^\W_]+")


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_condition(project: Project, term: str) -> Q:
    """The condition for a search ``term``; raises ValueError when it has no word.

    Every word must be among the prompt's words (``TaskWords``), whole or as a
    prefix. A "quoted phrase" also has to be in the prompt as typed (any case):
    that ILIKE runs only on the tasks the words found, so it stays bounded.
    """
    phrases = [p for p in re.findall(r'"([^"]*)"', term) if p.strip()]
    words = _WORD.findall(term.lower())
    if not words:
        raise ValueError(f"q: {term!r} has no word to search for (letters or digits)")
    query = " & ".join(f"'{word}':*" for word in dict.fromkeys(words))
    condition = Q(RawSQL(TASK_SEARCH_MATCH, [query, project.pk, project.pk, query], BooleanField()))
    for phrase in phrases:
        like = _like(" ".join(phrase.split()))
        condition &= Q(RawSQL(f"{TASK_SEARCH_TEXT} ILIKE %s", [like], output_field=BooleanField()))
    return condition


def _int(params, name: str) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a whole number") from None


def browser_filters(params) -> dict[str, str]:
    """The filters as given (states joined by commas), for the form and the page links."""
    found = {}
    for name in FILTERS:
        values = [v.strip() for v in params.getlist(name) if v.strip()]
        if values:
            found[name] = ",".join(values)
    return found


def browser_tasks(*, project: Project, filters: dict[str, str]) -> QuerySet[Task]:
    """Tasks matching ``filters`` (see FILTERS), by id. Raises ValueError naming a bad filter."""
    tasks = tasks_filtered(project, filters)
    if term := filters.get("q", "").strip():
        tasks = tasks.filter(search_condition(project, term))
    if question := filters.get("question"):
        if project.question(question) is None:
            raise ValueError(f"question: {question!r} is not a question of this project")
        tasks = tasks.filter(disputed_questions__contains=[question])
    if (annotator := _int(filters, "annotator")) is not None:
        answered = Annotation.objects.filter(task=OuterRef("pk"), annotator_id=annotator)
        tasks = tasks.filter(Exists(answered))
    if (after := _int(filters, "after")) is not None:
        tasks = tasks.filter(pk__gt=after)
    return tasks.only(
        "id",
        "project_id",
        "external_id",
        "data",
        "state",
        "is_gold",
        "annotation_count",
        "disputed_questions",
    )


def browser_page(*, project: Project, filters: dict[str, str]) -> tuple[list[Task], int | None]:
    """One page of tasks and the id to continue ``after`` (None on the last page)."""
    rows = list(browser_tasks(project=project, filters=filters)[: PAGE_SIZE + 1])
    if len(rows) > PAGE_SIZE:
        return rows[:PAGE_SIZE], rows[PAGE_SIZE - 1].pk
    return rows, None


def browser_task(*, project: Project, task_id: int) -> Task:
    """The task with its agreement, consensus and resolution (and its reviewer); 404 elsewhere."""
    return get_object_or_404(
        Task.objects.with_agreement().select_related("resolution__reviewer"),
        pk=task_id,
        project=project,
    )


def task_history(*, task: Task) -> dict:
    """Every answer with its reviewer, every earlier version of each, the active leases."""
    annotations = list(
        Annotation.objects.filter(task=task)
        .select_related("annotator", "reviewed_by")
        .order_by("created_at", "id")
    )
    revisions: dict[int, list[AnnotationRevision]] = {}
    for revision in AnnotationRevision.objects.filter(annotation__task=task).order_by(
        "annotation", "replaced_at"
    ):
        revisions.setdefault(revision.annotation_id, []).append(revision)
    leases = list(
        Assignment.objects.filter(
            task=task, state=Assignment.State.LEASED, expires_at__gt=timezone.now()
        )
        .select_related("annotator")
        .order_by("leased_at")
    )
    return {"annotations": annotations, "revisions": revisions, "leases": leases}
