"""The lead's bulk actions on tasks chosen in the task browser; each all or nothing."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agreement.models import Resolution, TaskAgreement
from agreement.scheduling import agreement_refresh_later
from labeling.models import Assignment
from projects.models import Project, Task

ACTIONS = {
    "gold": "Mark gold",
    "reopen": "Re-open",
    "release": "Release leases",
    "remove": "Remove",
}
MAX_TASKS = 1000


def _gold_answers(tasks: list[Task]) -> dict[int, dict]:
    """Each task's answer: its resolution, else its consensus (without the tie markers)."""
    ids = [t.pk for t in tasks]
    resolved = dict(Resolution.objects.filter(task_id__in=ids).values_list("task_id", "values"))
    consensus = dict(
        TaskAgreement.objects.filter(task_id__in=ids).values_list("task_id", "consensus")
    )
    answers = {}
    for task in tasks:
        answer = resolved.get(task.pk) or {
            k: v for k, v in (consensus.get(task.pk) or {}).items() if not k.startswith("_")
        }
        if not answer:
            raise ValidationError(
                f"task {task.external_id} has neither a resolution nor a consensus to use as gold"
            )
        answers[task.pk] = answer
    return answers


def tasks_bulk(*, project: Project, action: str, task_ids: list) -> int:
    """Apply ``action`` (see ACTIONS) to the project's tasks ``task_ids``; returns how many."""
    if action not in ACTIONS:
        raise ValidationError(f"action: {action!r} is not one of {', '.join(ACTIONS)}")
    try:
        ids = sorted({int(i) for i in task_ids})
    except (TypeError, ValueError):
        raise ValidationError("task: every selected id must be a whole number") from None
    if not ids:
        raise ValidationError("task: select at least one task")
    if len(ids) > MAX_TASKS:
        raise ValidationError(f"task: at most {MAX_TASKS} tasks at once ({len(ids)} selected)")
    with transaction.atomic():
        # Locked in id order, so two bulk actions on overlapping tasks queue up.
        tasks = list(
            Task.objects.select_for_update()
            .filter(project=project, pk__in=ids)
            .only("id", "external_id")
            .order_by("id")
        )
        if len(tasks) != len(ids):
            missing = sorted(set(ids) - {t.pk for t in tasks})
            raise ValidationError(f"task: {missing[0]} is not a task of this project")
        done = _apply(action, tasks, ids)
    if action in ("gold", "remove"):
        # Gold answers and the set of tasks feed the quality figures.
        agreement_refresh_later(project.id)
    return done


def _apply(action: str, tasks: list[Task], ids: list[int]) -> int:
    if action == "gold":
        answers = _gold_answers(tasks)
        for task in tasks:
            task.is_gold, task.gold = True, answers[task.pk]
        Task.objects.bulk_update(tasks, ["is_gold", "gold"])
        return len(tasks)
    if action == "reopen":
        return Task.objects.filter(pk__in=ids).update(
            state=Task.State.OPEN, target_overlap=None, disputed_questions=None
        )
    if action == "release":
        return Assignment.objects.filter(task_id__in=ids, state=Assignment.State.LEASED).update(
            state=Assignment.State.RELEASED, finished_at=timezone.now()
        )
    Task.objects.filter(pk__in=ids).delete()
    return len(ids)
