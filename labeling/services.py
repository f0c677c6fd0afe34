"""Task leasing and answers: who labels what next, and storing their answers.

Every write that can change how many answers a task still needs takes the
task row's lock first (``FOR UPDATE``), so leasing, submitting and importing
serialise per task while different tasks proceed in parallel. Leasing uses
``SKIP LOCKED`` so concurrent annotators never wait on each other: one that
finds a task locked simply takes the next one.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling import sql
from labeling.models import Assignment
from labeling.signals import answers_changed
from projects import questions
from projects.models import Annotation, AnnotationRevision, Membership, Project, Task
from projects.questions.order import response_order
from projects.schema import answer_context, validate_values
from web import rows

log = logging.getLogger(__name__)

# How many candidate tasks one lease call tries before it gives up; each try
# locks one task, so this only matters when many candidates turn out full.
MAX_LEASE_TRIES = 20
MAX_IMPORT_ROWS = 5000


class AnswerConflict(Exception):
    """The answer cannot be stored in the task's current state (HTTP 409)."""


class ProjectClosed(AnswerConflict):
    """The project is paused or archived: it hands out no tasks and takes no answers."""


def _require_open(project: Project) -> None:
    if project.status != Project.Status.ACTIVE:
        raise ProjectClosed(
            f"This project is {project.get_status_display().lower()}: "
            "it hands out no tasks and takes no answers."
        )


def _assignment_with_task(row) -> Assignment:
    assignment = rows.instance(Assignment, row)
    assignment.task = rows.instance(Task, row, rows.width(Assignment))
    return assignment


def _active_lease(project: Project, annotator, now) -> Assignment | None:
    with rows.prepared_cursor() as cursor:
        cursor.execute(sql.ACTIVE_LEASE, [project.pk, annotator.pk, now])
        row = cursor.fetchone()
    return None if row is None else _assignment_with_task(row)


def _lease_one(cursor, *, project: Project, annotator, gold: bool, now) -> Assignment | None:
    order = project.task_order if project.task_order in sql.CANDIDATES else "spread"
    params = {
        "project": project.pk,
        "user": annotator.pk,
        "gold": gold,
        "overlap": project.overlap,
        "overlap_max": project.max_overlap,
        "now": now,
        "tried": [],
        # Only the random order starts its walk at a random spot (and may wrap).
        "spot": random.random() if order == Project.TaskOrder.RANDOM else 0.0,
    }
    for attempt in range(MAX_LEASE_TRIES):
        cursor.execute(sql.CANDIDATES[order], params)
        row = cursor.fetchone()
        if row is None:
            if params["spot"]:
                # The random walk found nothing above its starting id: wrap around.
                params["spot"] = 0.0
                continue
            # SKIP LOCKED also skips tasks that others are leasing right now;
            # only when none is left even counting those is the pool empty.
            cursor.execute(sql.PEEKS[order], params)
            if cursor.fetchone() is None:
                return None
            time.sleep(0.002 * (attempt + 1))
            continue
        task_id = row[0]
        cursor.execute(
            sql.LEASE,
            {
                **params,
                "task": task_id,
                "expires": now + timedelta(seconds=project.lease_seconds),
            },
        )
        leased = cursor.fetchone()
        if leased is not None:
            return _assignment_with_task(leased)
        params["tried"] = [*params["tried"], task_id]
    return None


def assignment_lease_next(*, project: Project, annotator) -> Assignment | None:
    """Lease the next task to the annotator, or None when nothing is left for them.

    The caller's own unexpired lease comes back first, so reloading the page
    or calling the API twice does not hand out a second task. Gold tasks are
    drawn with probability ``project.gold_fraction``; when the drawn kind has
    nothing left the other kind is used, so the pool always drains.
    Raises ProjectClosed for a paused or archived project.
    """
    _require_open(project)
    now = timezone.now()
    existing = _active_lease(project, annotator, now)
    if existing is not None:
        existing.project = existing.task.project = project
        return existing
    gold_first = project.gold_fraction > 0 and random.random() < project.gold_fraction
    with transaction.atomic(), rows.prepared_cursor() as cursor:
        for gold in (gold_first, not gold_first):
            assignment = _lease_one(
                cursor, project=project, annotator=annotator, gold=gold, now=now
            )
            if assignment is not None:
                assignment.project = assignment.task.project = project
                return assignment
    return None


def _clean_lead_time(lead_time_s: Any) -> float | None:
    if lead_time_s is None or lead_time_s == "":
        return None
    try:
        value = float(lead_time_s)
    except (TypeError, ValueError):
        raise ValidationError({"lead_time_s": ["must be a number of seconds"]}) from None
    if not value >= 0 or value == float("inf"):
        raise ValidationError({"lead_time_s": ["must be zero or more seconds"]})
    return value


def _clean_client_id(client_id: Any) -> uuid.UUID:
    if client_id is None or client_id == "":
        return uuid.uuid4()
    if isinstance(client_id, uuid.UUID):
        return client_id
    try:
        return uuid.UUID(str(client_id))
    except (TypeError, ValueError, AttributeError):
        raise ValidationError({"client_id": ["must be a UUID"]}) from None


def _same_submit(existing: Annotation, *, task: Task, annotator) -> Annotation:
    if existing.task_id != task.pk or existing.annotator_id != annotator.pk:
        raise ValidationError({"client_id": ["is already used by another answer"]})
    return existing


def task_settle(
    project: Project,
    *,
    count: int,
    target: int,
    answers: list[dict],
    accuracies: list[float | None] | None = None,
) -> tuple[str, int | None, list[str] | None]:
    """A task's ``(state, new target or None, disputed questions or None)`` with ``answers``.

    ``count`` is the number of answers it holds, ``target`` the number it
    needed. Below the target it stays open. At the target it completes when
    the answers agree on every question; otherwise it asks for one more answer
    (the target grows) until the project's ``overlap_max``, and then becomes
    disputed, naming the questions in dispute.

    Under the project's ``stop_confidence`` it completes at the target once
    every question's consensus is that likely, each answer weighed by its
    annotator's estimated accuracy (``accuracies``, with ``answers``); at
    ``overlap_max`` a question is in dispute when its answers do not agree.
    """
    if count < target:
        return Task.State.OPEN, None, None
    if project.stop_confidence is not None:
        weights = accuracies if accuracies is not None else [None] * len(answers)
        if not questions.unsure(project.questions, answers, weights, project.stop_confidence):
            return Task.State.COMPLETE, None, None
        if count < project.max_overlap:
            return Task.State.OPEN, count + 1, None
    disputed = questions.disputed(project.questions, answers)
    if not disputed:
        return Task.State.COMPLETE, None, None
    if count < project.max_overlap:
        return Task.State.OPEN, count + 1, None
    return Task.State.DISPUTED, None, disputed


def _stored_answers(raw: Any) -> dict:
    """LOCK_TASK's answers: ``{"values": [...], "annotators": [...]}``, in step."""
    if raw is None:
        return {"values": [], "annotators": []}
    return json.loads(raw) if isinstance(raw, str | bytes) else raw


def _accuracies(project: Project) -> dict[int, float]:
    """Estimated accuracy per annotator id (only under ``stop_confidence``; one query)."""
    if project.stop_confidence is None:
        return {}
    found = Membership.objects.filter(project=project, accuracy__isnull=False)
    return dict(found.values_list("user_id", "accuracy"))


def _answers_changed(project_id: int) -> None:
    """Tell whoever listens (agreement) once the transaction holding the answer commits."""

    def notify() -> None:
        # The answer is stored whatever a receiver does; the next submit notifies again.
        results = answers_changed.send_robust(sender=Annotation, project_id=project_id)
        for receiver, result in results:
            if isinstance(result, Exception):
                log.error(
                    "%s failed for project %s", receiver.__qualname__, project_id, exc_info=result
                )

    transaction.on_commit(notify)


def shown_order(task: Task, annotator) -> list[int] | None:
    """The order ``annotator`` sees the task's responses in, or None when shown as stored.

    Derived from the task and annotator ids, so a reload (or the API) gives the same.
    """
    responses = task.data.get("responses") if isinstance(task.data, dict) else None
    if not task.project.shuffle_responses or not isinstance(responses, list):
        return None
    if len(responses) < 2:
        return None
    pair_first = questions.compares_pair(task.project.questions)
    return response_order(task.pk, annotator.pk, len(responses), pair_first=pair_first)


def annotation_submit(
    *,
    task: Task,
    annotator,
    values: Any,
    client_id: Any = None,
    lead_time_s: Any = None,
    source: str = Annotation.Source.UI,
) -> tuple[Annotation, bool]:
    """Store the annotator's answer to the task; return ``(annotation, created)``.

    A repeated ``client_id`` returns the first annotation unchanged. The
    overlap and one-answer-per-annotator rules are checked here under the
    task's lock, so a submit without a lease is accepted only while the task
    still has room once other annotators' active leases are counted.
    """
    client_uuid = _clean_client_id(client_id)
    project = task.project
    if project.status != Project.Status.ACTIVE:
        # A retry of an answer stored before the pause still gets its answer back.
        stored = Annotation.objects.filter(client_id=client_uuid).first()
        if stored is not None:
            return _same_submit(stored, task=task, annotator=annotator), False
        _require_open(project)
    clean = validate_values(project.questions, values, **answer_context(task.data))
    lead_time = _clean_lead_time(lead_time_s)
    order = shown_order(task, annotator)
    now = timezone.now()
    try:
        with transaction.atomic(), rows.prepared_cursor() as cursor:
            # The lock comes first, in its own statement, so the checks below see
            # every answer committed before it (a double submit waits here).
            cursor.execute(sql.LOCK_TASK, {"task": task.pk, "overlap": project.overlap})
            count, target, stored = cursor.fetchone()
            stored = _stored_answers(stored)
            answers, accuracies = [*stored["values"], clean], None
            if project.stop_confidence is not None and count + 1 >= target:
                who = [*stored["annotators"], annotator.pk]
                cursor.execute(sql.ACCURACIES, {"project": project.pk, "users": who})
                known = dict(cursor.fetchall())
                accuracies = [known.get(user) for user in who]
            # Decided before the write, from the answers stored and this one; the
            # write happens only if the checks in SUBMIT pass.
            state, grow_to, disputed = task_settle(
                project, count=count + 1, target=target, answers=answers, accuracies=accuracies
            )
            cursor.execute(
                sql.SUBMIT,
                {
                    "project": project.pk,
                    "task": task.pk,
                    "user": annotator.pk,
                    "values": json.dumps(clean),
                    "client": client_uuid,
                    "lead_time": lead_time,
                    "source": source,
                    "review_state": Annotation.ReviewState.PENDING,
                    "now": now,
                    "shown_order": None if order is None else json.dumps(order),
                    "count": count,
                    "target": target,
                    "state": state,
                    "grow_to": grow_to,
                    "disputed": None if disputed is None else json.dumps(disputed),
                },
            )
            row = cursor.fetchone()
            same_client, answered = row[0], row[1]
            if same_client is not None:
                existing = Annotation.objects.get(pk=same_client)
                return _same_submit(existing, task=task, annotator=annotator), False
            if answered:
                raise AnswerConflict(
                    "You have already answered this task; revise your answer instead."
                )
            if row[2] is None:
                raise AnswerConflict("This task already has all the answers it needs.")
            annotation = rows.instance(Annotation, row, 2)
            annotation.project, annotation.task, annotation.annotator = project, task, annotator
            _answers_changed(project.pk)
    except IntegrityError:
        # Only a client UUID reused for another task, at the same moment, gets here.
        raise ValidationError({"client_id": ["is already used by another answer"]}) from None
    return annotation, True


def annotation_revise(
    *, annotation: Annotation, values: Any, lead_time_s: Any = None
) -> Annotation:
    """Replace the answer's values, keeping the previous version as a revision."""
    task = annotation.task
    _require_open(task.project)
    clean = validate_values(task.project.questions, values, **answer_context(task.data))
    lead_time = _clean_lead_time(lead_time_s)
    with transaction.atomic():
        # The task first, as a submit takes it: its state is decided again below.
        locked = Task.objects.select_for_update().only("state", "target_overlap").get(pk=task.pk)
        current = Annotation.objects.select_for_update().get(pk=annotation.pk)
        if current.values == clean:
            return current
        AnnotationRevision.objects.create(
            annotation=current,
            values=current.values,
            lead_time_s=current.lead_time_s,
            created_at=current.updated_at,
            review_state=current.review_state,
        )
        current.values = clean
        if lead_time is not None:
            current.lead_time_s = (current.lead_time_s or 0) + lead_time
        # A reviewer judged the old text, not this one: it goes back to review.
        current.review_state = Annotation.ReviewState.PENDING
        current.save(update_fields=["values", "lead_time_s", "review_state", "updated_at"])
        _resettle(locked, task.project)
        _answers_changed(current.project_id)
    return current


def _resettle(task: Task, project: Project) -> None:
    """Decide a settled task's state again after one of its answers changed.

    A complete task whose answers now disagree asks for one more answer (or is
    disputed at the maximum); a disputed one whose answers now agree completes.
    Open tasks settle at their next submit, and a reviewer's resolution stands.
    """
    if task.state not in (Task.State.COMPLETE, Task.State.DISPUTED):
        return
    found = list(
        Annotation.objects.filter(task_id=task.pk)
        .order_by("pk")
        .values_list("annotator_id", "values")
    )
    answers = [values for _, values in found]
    accuracy = _accuracies(project)
    count = len(answers)
    state, grow_to, disputed = task_settle(
        project,
        count=count,
        target=count,
        answers=answers,
        accuracies=[accuracy.get(who) for who, _ in found],
    )
    Task.objects.filter(pk=task.pk).update(
        state=state,
        target_overlap=grow_to or task.target_overlap,
        disputed_questions=disputed,
    )


def assignment_skip(*, assignment: Assignment, reason: str) -> Assignment:
    """Give the leased task back with a reason; the annotator will not get it again."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why you skip this task."]})
    if len(reason) > 2000:
        raise ValidationError({"reason": ["must be at most 2000 characters"]})
    updated = Assignment.objects.filter(pk=assignment.pk, state=Assignment.State.LEASED).update(
        state=Assignment.State.SKIPPED, skip_reason=reason, finished_at=timezone.now()
    )
    if not updated:
        raise AnswerConflict("This task is no longer leased to you.")
    assignment.refresh_from_db()
    return assignment


@transaction.atomic
def assignment_unskip(*, assignment: Assignment) -> Assignment:
    """Take back a skip: the task is leased to the annotator again, if it still has room.

    Under the task's lock, like a lease, so an undo never takes a task past its
    target. The lease the annotator was given after the skip is released.
    """
    task = Task.objects.select_for_update().select_related("project").get(pk=assignment.task_id)
    project = task.project
    _require_open(project)
    current = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if current.state != Assignment.State.SKIPPED:
        raise AnswerConflict("There is no skip of this task to take back.")
    now = timezone.now()
    others = (
        Assignment.objects.filter(task=task, state=Assignment.State.LEASED, expires_at__gt=now)
        .exclude(annotator_id=current.annotator_id)
        .count()
    )
    target = task.target_overlap or project.overlap
    if task.state != Task.State.OPEN or task.annotation_count + others >= target:
        raise AnswerConflict("Others have answered this task since; the skip stays.")
    Assignment.objects.filter(
        project=project, annotator_id=current.annotator_id, state=Assignment.State.LEASED
    ).exclude(pk=current.pk).update(state=Assignment.State.RELEASED, finished_at=now)
    current.state = Assignment.State.LEASED
    current.leased_at = now
    current.expires_at = now + timedelta(seconds=project.lease_seconds)
    current.skip_reason = ""
    current.finished_at = None
    current.save(update_fields=["state", "leased_at", "expires_at", "skip_reason", "finished_at"])
    current.task = task
    return current


def annotations_import(*, project: Project, rows: Any) -> dict:
    """Import answers made elsewhere: ``[{external_id, annotator, values}, ...]``.

    All or nothing: any bad row raises ValidationError with ``errors``, a list
    of ``{row, field, message}``, and nothing is written. Annotators must be
    existing members of the project (an unknown username is an error, not a
    silently created account). Imports do not enforce the overlap: they
    record what already happened. A row identical to a stored answer is
    counted as unchanged, so re-importing a file is harmless.
    """
    if not isinstance(rows, list):
        raise ValidationError(
            {"annotations": ["must be a list of {external_id, annotator, values}"]}
        )
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationError({"annotations": [f"at most {MAX_IMPORT_ROWS} rows per request"]})
    errors: list[dict] = []

    def err(index: int, field: str, message: str) -> None:
        errors.append({"row": index, "field": field, "message": message})

    def text(row: Any, key: str) -> str | None:
        value = row.get(key) if isinstance(row, dict) else None
        return value if isinstance(value, str) else None

    external_ids = {text(r, "external_id") for r in rows} - {None}
    usernames = {text(r, "annotator") for r in rows} - {None}
    tasks = {
        t.external_id: t
        for t in Task.objects.filter(
            project=project, external_id__in=[e for e in external_ids if isinstance(e, str)]
        )
    }
    users = {
        u.username: u
        for u in get_user_model().objects.filter(
            username__in=[u for u in usernames if isinstance(u, str)]
        )
    }
    members = set(
        Membership.objects.filter(project=project, user__in=users.values()).values_list(
            "user_id", flat=True
        )
    )
    stored = {
        (a.task_id, a.annotator_id): a
        for a in Annotation.objects.filter(
            task__in=tasks.values(), annotator__in=users.values()
        ).only("task_id", "annotator_id", "values")
    }
    to_create: list[Annotation] = []
    seen: dict[tuple[int, int], int] = {}
    unchanged = 0
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            err(index, "row", "must be an object {external_id, annotator, values}")
            continue
        task = tasks.get(text(row, "external_id"))
        user = users.get(text(row, "annotator"))
        if task is None:
            err(index, "external_id", f"no task {row.get('external_id')!r} in this project")
        if user is None:
            err(index, "annotator", f"no user {row.get('annotator')!r}; create the account first")
        elif user.pk not in members:
            err(index, "annotator", f"{user.username} is not a member of this project")
        if task is None or user is None:
            continue
        try:
            clean = validate_values(
                project.questions, row.get("values"), **answer_context(task.data)
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                err(index, field, messages[0])
            continue
        key = (task.pk, user.pk)
        if key in seen:
            err(index, "annotator", f"repeats row {seen[key]} (one answer per annotator and task)")
            continue
        seen[key] = index
        if key in stored:
            if stored[key].values == clean:
                unchanged += 1
            else:
                err(index, "values", "this annotator already has a different answer to this task")
            continue
        to_create.append(
            Annotation(
                project=project,
                task=task,
                annotator=user,
                values=clean,
                source=Annotation.Source.IMPORT,
            )
        )
    if errors:
        raise ImportRowsError(errors)
    with transaction.atomic():
        task_ids = sorted({a.task_id for a in to_create})
        # Lock in id order so two imports cannot deadlock.
        locked = {
            t.pk: t for t in Task.objects.select_for_update().filter(pk__in=task_ids).order_by("pk")
        }
        Annotation.objects.bulk_create(to_create)
        added: dict[int, int] = {}
        for a in to_create:
            added[a.task_id] = added.get(a.task_id, 0) + 1
        changed = []
        for task_id, n in added.items():
            task = locked[task_id]
            task.annotation_count += n
            changed.append(task)
        _settle_imported(project, [t for t in changed if t.state == Task.State.OPEN])
        Task.objects.bulk_update(
            changed,
            ["annotation_count", "state", "target_overlap", "disputed_questions"],
            batch_size=500,
        )
        if to_create:
            _answers_changed(project.pk)
    return {"created": len(to_create), "unchanged": unchanged, "errors": []}


def _settle_imported(project: Project, tasks: list[Task]) -> None:
    """Apply ``task_settle`` to open tasks that imported answers brought to their target."""
    due = {t.pk: t for t in tasks if t.annotation_count >= (t.target_overlap or project.overlap)}
    answers: dict[int, list[dict]] = {pk: [] for pk in due}
    annotators: dict[int, list[int]] = {pk: [] for pk in due}
    found = Annotation.objects.filter(task_id__in=due).order_by("pk")
    for task_id, who, values in found.values_list("task_id", "annotator_id", "values"):
        answers[task_id].append(values)
        annotators[task_id].append(who)
    accuracy = _accuracies(project) if due else {}
    for pk, task in due.items():
        state, grow_to, disputed = task_settle(
            project,
            count=task.annotation_count,
            target=task.target_overlap or project.overlap,
            answers=answers[pk],
            accuracies=[accuracy.get(who) for who in annotators[pk]],
        )
        task.state, task.disputed_questions = state, disputed
        if grow_to is not None:
            task.target_overlap = grow_to


class ImportRowsError(ValidationError):
    """Bad rows in an annotation import; ``rows`` lists ``{row, field, message}``."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        first = rows[0]
        super().__init__(
            {"annotations": [f"row {first['row']}: {first['field']}: {first['message']}"]}
        )


def project_progress(*, project: Project, annotator) -> dict:
    """The annotator's own progress: answers given and tasks still open to them."""
    done = Annotation.objects.filter(project=project, annotator=annotator).count()
    # Counting a million tasks on every page would cost more than the page;
    # the total changes only on import, so a minute-old figure is fine.
    total = cache.get_or_set(
        f"labeling:task-total:{project.pk}",
        lambda: Task.objects.filter(project=project).count(),
        60,
    )
    return {"done": done, "total": total, "percent": round(100 * done / total) if total else 0}
