"""The task browser pages: the list with search, filters and bulk actions, and one task."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agreement.browser import (
    SEARCH_HELP,
    browser_filters,
    browser_page,
    browser_task,
    task_history,
)
from agreement.bulk import ACTIONS, tasks_bulk
from imports.models import ImportJob
from projects.models import Role, Task
from projects.questions.widgets import task_view
from projects.schema import answer_display
from projects.selectors import REVIEW_ROLES, members_of, project_for_user, project_role

LEAD_ROLES = frozenset({Role.LEAD})


def _list_context(request, project, filters: dict) -> dict:
    query = {k: v for k, v in filters.items() if k != "after"}
    return {
        "project": project,
        "filters": filters,
        "states": Task.State.choices,
        "chosen_states": filters.get("state", "").split(","),
        "members": members_of(project),
        "imports": ImportJob.objects.filter(
            project=project, state=ImportJob.State.DONE, created_count__gt=0
        )
        .only("id", "filename", "created_count", "finished_at")
        .order_by("-id"),
        "search_help": SEARCH_HELP,
        "actions": ACTIONS,
        "query": urlencode(query),
        "is_lead": project_role(request.user, project) == Role.LEAD,
    }


@login_required
def task_list(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
    filters = browser_filters(request.GET)
    context = _list_context(request, project, filters)
    try:
        tasks, after = browser_page(project=project, filters=filters)
    except ValueError as exc:
        context.update(tasks=[], error=str(exc))
        return render(request, "agreement/tasks.html", context, status=400)
    next_query = urlencode({**filters, "after": after}) if after is not None else None
    context.update(tasks=tasks, next_query=next_query)
    return render(request, "agreement/tasks.html", context)


@login_required
@require_POST
def task_bulk(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=LEAD_ROLES)
    action = request.POST.get("action", "")
    back = reverse("agreement:task-list", args=[project.pk])
    # Only a query string comes back from the form, so this cannot redirect elsewhere.
    query = request.POST.get("query", "").lstrip("?")
    try:
        done = tasks_bulk(project=project, action=action, task_ids=request.POST.getlist("task"))
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        context = _list_context(request, project, {})
        context.update(tasks=[], error="; ".join(exc.messages))
        return render(request, "agreement/tasks.html", context, status=400)
    messages.success(request, f"{ACTIONS[action]}: {done} done.")
    return redirect(f"{back}?{query}" if query else back)


@login_required
def task_detail(request, project_id: int, task_id: int):
    project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
    task = browser_task(project=project, task_id=task_id)
    history = task_history(task=task)
    questions = project.questions
    answers = [
        {
            "a": a,
            "values": [(q, answer_display(a.values.get(q["name"]), q, task)) for q in questions],
            "revisions": [
                {
                    "r": r,
                    "values": [
                        (q, answer_display(r.values.get(q["name"]), q, task)) for q in questions
                    ],
                }
                for r in history["revisions"].get(a.pk, [])
            ],
        }
        for a in history["annotations"]
    ]
    resolution = getattr(task, "resolution", None) if hasattr(task, "resolution") else None
    consensus = task.consensus or {}
    context = {
        "project": project,
        "task": task,
        "view": task_view(task.data),
        "answers": answers,
        "leases": history["leases"],
        "resolution": resolution,
        "resolved": [
            (q, answer_display(resolution.values.get(q["name"]), q, task)) for q in questions
        ]
        if resolution
        else [],
        "consensus": [(q, answer_display(consensus.get(q["name"]), q, task)) for q in questions]
        if task.consensus
        else [],
        "is_lead": project_role(request.user, project) == Role.LEAD,
        "actions": ACTIONS,
    }
    return render(request, "agreement/tasks_task.html", context)
