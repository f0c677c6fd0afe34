"""Agreement dashboard and review queue pages (thin: selectors and services do the work)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from agreement import charts
from agreement.encoding import encoder_for
from agreement.review import annotation_review, resolution_save
from agreement.scheduling import agreement_refresh_now
from agreement.selectors import (
    agreement_latest,
    lowest_tasks,
    next_disputed,
    review_queue,
    snapshot_history,
    task_annotation,
    task_annotations,
    task_for_review,
)
from labeling.selectors import team_activity
from projects.questions.widgets import question_widgets, task_view, values_from_post
from projects.schema import answer_display
from projects.selectors import REVIEW_ROLES, project_for_user, task_counts

SORTS = {
    "quality": ("quality", True),
    "agreement": ("agreement", True),
    "gold": ("gold_accuracy", True),
    "speed": ("median_seconds", False),
    "skips": ("skip_rate", False),
    "annotations": ("annotations", True),
}
TREND_POINTS = 30


def _shown_distribution(distribution: list[dict], question: dict | None) -> list[dict]:
    """Each value as answers are shown ("A is better", "3 · Acceptable"), not its code."""
    if question is None:
        return distribution
    encoder = encoder_for(question)
    return [
        {**d, "value": answer_display(encoder.distribution_answer(d["value"]), question)}
        for d in distribution
    ]


def _dashboard_context(project, *, sort: str = "quality") -> dict:
    snapshot = agreement_latest(project=project)
    context: dict = {"project": project, "snapshot": snapshot, "sort": sort}
    if snapshot is None:
        return context
    data = snapshot.data
    history = snapshot_history(project=project, limit=TREND_POINTS)
    by_name = {q["name"]: q for q in project.questions}
    titles = {name: q.get("title") or name for name, q in by_name.items()}
    questions = []
    for name, q in data.get("questions", {}).items():
        alpha = q.get("krippendorff_alpha")
        points = [
            (at.strftime("%Y-%m-%d %H:%M"), (past or {}).get(name, {}).get("krippendorff_alpha"))
            for at, past in history
        ]
        questions.append(
            {
                "name": name,
                "title": titles.get(name, name),
                "stats": q,
                "reading": charts.reading(alpha),
                "trend": charts.trend(points),
                "bars": (
                    charts.bars(_shown_distribution(q["distribution"], by_name.get(name)))
                    if q.get("distribution")
                    else None
                ),
            }
        )
    key, descending = SORTS.get(sort, SORTS["quality"])
    annotators = sorted(
        data.get("annotators", []),
        key=lambda a: (a.get(key) is None, -(a.get(key) or 0) if descending else (a.get(key) or 0)),
    )
    names = {a["annotator_id"]: a["username"] for a in data.get("annotators", [])}
    pairwise = data.get("pairwise") or {}
    heat = None
    if pairwise.get("annotator_ids"):
        heat = charts.heatmap(
            [names.get(i, str(i)) for i in pairwise["annotator_ids"]], pairwise["agreement"]
        )
    context.update(
        questions=questions,
        annotators=annotators,
        heatmap=heat,
        lowest=lowest_tasks(project=project, rows=data.get("lowest_tasks", [])),
        sorts=list(SORTS),
    )
    return context


@login_required
def dashboard(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
    context = _dashboard_context(project, sort=request.GET.get("sort", "quality"))
    after = request.GET.get("after")
    if after is not None:
        latest = context["snapshot"].pk if context["snapshot"] else 0
        context["pending"] = str(latest) == after
        context["after"] = after
    if request.htmx:
        return render(request, "agreement/dashboard.html#panels", context)
    return render(request, "agreement/dashboard.html", context)


@login_required
@require_POST
def dashboard_refresh(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
    agreement_refresh_now(project.id)
    context = _dashboard_context(project)
    context["pending"] = True
    context["after"] = str(context["snapshot"].pk if context["snapshot"] else 0)
    if request.htmx:
        return render(request, "agreement/dashboard.html#panels", context)
    messages.info(request, "Agreement is being recomputed.")
    return redirect("agreement:dashboard", project_id=project.id)


@login_required
def review_queue_view(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
    tasks = list(review_queue(project=project)[:200])
    return render(request, "agreement/review_queue.html", {"project": project, "tasks": tasks})


def _form_values(project, post) -> dict:
    """Read the resolution form: the labeling widgets, parsed as labeling parses them."""
    values = values_from_post(project.questions, post)
    # An unanswered question stays unanswered when the form is shown again,
    # rather than falling back to the consensus.
    return {q["name"]: values.get(q["name"]) for q in project.questions}


def _review_context(project, task, *, values=None, errors=None) -> dict:
    annotations = task_annotations(task=task)
    resolution = getattr(task, "resolution", None) if hasattr(task, "resolution") else None
    current = values if values is not None else (resolution.values if resolution else None)
    consensus = task.consensus or {}
    ties = set(consensus.get("_ties", []))
    start = {
        q["name"]: (current or {}).get(q["name"], consensus.get(q["name"]))
        for q in project.questions
    }
    # The resolution form is the labeling form: same widgets, same field names.
    widgets = question_widgets(
        project.questions,
        task.data,
        values=start,
        errors={k: [v] for k, v in (errors or {}).items()},
    )
    rows = [
        {
            "q": q,
            "answers": [answer_display(a.values.get(q["name"]), q, task) for a in annotations],
            "consensus": answer_display(consensus.get(q["name"]), q, task),
            "tied": q["name"] in ties,
        }
        for q in project.questions
    ]
    return {
        "project": project,
        "task": task,
        "annotations": annotations,
        "rows": rows,
        "widgets": widgets,
        "view": task_view(task.data),
        "next_task": next_disputed(project=project, after=task),
        "resolution": resolution,
        "errors": errors or {},
        "task_json": json.dumps(task.data, indent=2, ensure_ascii=False),
    }


@login_required
def review_task(request, project_id: int, task_id: int):
    project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
    task = task_for_review(project=project, task_id=task_id)
    if request.method == "POST":
        values = _form_values(project, request.POST)
        try:
            resolution_save(
                task=task,
                reviewer=request.user,
                values=values,
                comment=request.POST.get("comment", "").strip(),
            )
        except ValidationError as exc:
            errors = {k: "; ".join(v) for k, v in exc.message_dict.items()}
            context = _review_context(project, task, values=values, errors=errors)
            return render(request, "agreement/review_task.html", context, status=400)
        messages.success(request, f"Task {task.external_id} resolved.")
        return redirect("agreement:review-task", project_id=project.id, task_id=task.id)
    return render(request, "agreement/review_task.html", _review_context(project, task))


@login_required
@require_POST
def annotation_review_view(request, project_id: int, task_id: int, annotation_id: int):
    project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
    task = task_for_review(project=project, task_id=task_id)
    annotation = task_annotation(task=task, annotation_id=annotation_id)
    status = 200
    error = None
    try:
        annotation_review(
            annotation=annotation,
            reviewer=request.user,
            state=request.POST.get("review_state", ""),
            comment=request.POST.get("comment", ""),
        )
    except ValidationError as exc:
        error, status = "; ".join(exc.messages), 400
    context = {"project": project, "task": task, "a": annotation, "error": error}
    if request.htmx:
        return render(request, "agreement/review_task.html#judge", context, status=status)
    if error:
        messages.error(request, error)
    return redirect("agreement:review-task", project_id=project.id, task_id=task.id)


@login_required
def team(request, project_id: int):
    """Team progress: what each annotator did today, this week and in all, and how well."""
    project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
    snapshot = agreement_latest(project=project)
    quality = {
        a["annotator_id"]: a for a in (snapshot.data.get("annotators", []) if snapshot else [])
    }
    rows = [
        {**row, "quality": quality.get(row["annotator_id"], {}).get("quality")}
        for row in team_activity(project=project, now=timezone.now())
    ]
    return render(
        request,
        "agreement/team.html",
        {"project": project, "rows": rows, "snapshot": snapshot, "counts": task_counts(project)},
    )
