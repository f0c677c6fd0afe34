"""Agreement dashboard and review queue pages (thin: selectors and services do the work)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from agreement import charts
from agreement.models import AgreementSnapshot
from agreement.review import annotation_review, resolution_save, review_queue
from agreement.scheduling import agreement_refresh_now
from agreement.services import agreement_latest
from projects.models import Annotation, Task
from projects.schema import answer_display, answer_text
from projects.selectors import REVIEW_ROLES, project_for_user

SORTS = {
    "quality": ("quality", True),
    "agreement": ("agreement", True),
    "gold": ("gold_accuracy", True),
    "speed": ("median_seconds", False),
    "skips": ("skip_rate", False),
    "annotations": ("annotations", True),
}
TREND_POINTS = 30


def _dashboard_context(project, *, sort: str = "quality") -> dict:
    snapshot = agreement_latest(project=project)
    context: dict = {"project": project, "snapshot": snapshot, "sort": sort}
    if snapshot is None:
        return context
    data = snapshot.data
    history = list(
        AgreementSnapshot.objects.filter(project=project)
        .order_by("-computed_at", "-id")
        .values_list("computed_at", "data__questions")[:TREND_POINTS]
    )[::-1]
    titles = {q["name"]: q.get("title") or q["name"] for q in project.questions}
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
                "bars": charts.bars(q["distribution"]) if q.get("distribution") else None,
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
        lowest=data.get("lowest_tasks", []),
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
    """Read the resolution form: one field per question, shaped like an answer."""
    values: dict = {}
    for q in project.questions:
        name, qtype = q["name"], q["type"]
        if qtype == "multilabel":
            values[name] = post.getlist(name)
            continue
        raw = post.get(name, "").strip()
        if raw == "":
            values[name] = None
        elif qtype == "rating":
            try:
                values[name] = int(raw)
            except ValueError:
                values[name] = raw
        elif qtype == "ranking":
            try:
                values[name] = [int(x) for x in raw.replace(",", " ").split()]
            except ValueError:
                values[name] = raw
        elif qtype == "preference" and q.get("strength"):
            strength = post.get(f"{name}__strength", "").strip()
            values[name] = {
                "choice": raw,
                "strength": 0 if raw == "tie" else int(strength) if strength.isdigit() else 1,
            }
        elif qtype == "text" and post.get(f"{name}__turn", "").strip().isdigit():
            # The answer corrects an earlier assistant turn; the resolution keeps which.
            values[name] = {"text": raw, "turn": int(post[f"{name}__turn"])}
        else:
            values[name] = raw
    return values


def _initial(question: dict, value):
    """A consensus or resolved answer as the form shows it."""
    if value is None:
        return ""
    if question["type"] == "ranking" and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if question["type"] == "preference" and isinstance(value, dict):
        return value.get("choice", "")
    if question["type"] == "text":
        return answer_text(value) or ""
    return value


def _review_context(project, task, *, values=None, errors=None) -> dict:
    annotations = list(
        Annotation.objects.filter(task=task)
        .select_related("annotator", "reviewed_by")
        .order_by("created_at", "id")
    )
    resolution = getattr(task, "resolution", None) if hasattr(task, "resolution") else None
    current = values if values is not None else (resolution.values if resolution else None)
    consensus = task.consensus or {}
    ties = set(consensus.get("_ties", []))
    rows = []
    for q in project.questions:
        name = q["name"]
        start = (current or {}).get(name, consensus.get(name))
        strength = start.get("strength", 1) if isinstance(start, dict) else 1
        rows.append(
            {
                "q": q,
                "choices": ["A", "B", "tie"] if q["type"] == "preference" else q.get("options", []),
                "answers": [answer_display(a.values.get(name)) for a in annotations],
                "consensus": answer_display(consensus.get(name)),
                "tied": name in ties,
                "initial": _initial(q, start),
                "initial_list": start if isinstance(start, list) else [],
                "strength": strength,
                "turn": start.get("turn")
                if q["type"] == "text" and isinstance(start, dict)
                else None,
                "error": (errors or {}).get(f"values.{name}"),
            }
        )
    return {
        "project": project,
        "task": task,
        "annotations": annotations,
        "rows": rows,
        "resolution": resolution,
        "errors": errors or {},
        "task_json": json.dumps(task.data, indent=2, ensure_ascii=False),
    }


def _task(project, task_id: int) -> Task:
    return get_object_or_404(
        Task.objects.with_agreement().select_related("project").prefetch_related("resolution"),
        pk=task_id,
        project=project,
    )


@login_required
def review_task(request, project_id: int, task_id: int):
    project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
    task = _task(project, task_id)
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
    task = _task(project, task_id)
    annotation = get_object_or_404(
        Annotation.objects.select_related("annotator"), pk=annotation_id, task=task
    )
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
