"""The annotator workspace: label tasks one after another, skip, revise."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from labeling.drafts import draft_discard, draft_of, draft_save
from labeling.forms import question_widgets, task_view, values_from_post
from labeling.models import Assignment
from labeling.selectors import answers_of, feedback_for, lease_of, own_answer, own_lease
from labeling.services import (
    AnswerConflict,
    ProjectClosed,
    annotation_revise,
    annotation_submit,
    assignment_lease_next,
    assignment_skip,
    assignment_unskip,
    project_progress,
    shown_order,
)
from projects.selectors import LABEL_ROLES, project_for_user, task_for_user
from web.input import BadInput, json_loads

PAGE = "labeling/label.html"


def _next(request, project) -> tuple[Assignment | None, str]:
    """The annotator's next lease, or none and why: a paused or archived project hands out none."""
    try:
        return assignment_lease_next(project=project, annotator=request.user), ""
    except ProjectClosed as exc:
        return None, str(exc)


def _workspace(
    request,
    project,
    assignment,
    *,
    values=None,
    errors=None,
    notice="",
    saved=None,
    closed="",
    undo=None,
):
    context = {
        "undo": undo,
        "project": project,
        "assignment": assignment,
        "progress": project_progress(project=project, annotator=request.user),
        "notice": notice,
        "saved_task": saved,
        "errors": errors or {},
        "closed": closed,
    }
    if assignment is not None:
        task = assignment.task
        task.project = project
        order = shown_order(task, request.user)
        context["task"] = task
        context["view"] = task_view(task.data, order)
        context["widgets"] = question_widgets(
            project.questions, task.data, values=values, errors=errors, order=order
        )
        context["side_by_side"] = context["view"]["n_responses"] == 2
        draft = None if values is not None else draft_of(task=task, annotator=request.user)
        if draft is not None:
            context["server_draft"] = {"fields": draft.fields, "saved_at": draft.saved_at}
    template = f"{PAGE}#workspace" if request.htmx else PAGE
    return render(request, template, context)


@login_required
def label(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    assignment, closed = _next(request, project)
    return _workspace(request, project, assignment, closed=closed)


def _project_task(request, project_id: int, task_id: int):
    """The project and one of its tasks, both open to the user's labeling role (404 otherwise)."""
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    task = task_for_user(request.user, task_id, roles=LABEL_ROLES)
    if task.project_id != project.pk:
        raise Http404("No such task.")
    return project, task


@login_required
@require_POST
def label_submit(request, project_id: int, task_id: int):
    project, task = _project_task(request, project_id, task_id)
    values = values_from_post(project.questions, request.POST, shown_order(task, request.user))
    undo = None
    try:
        annotation, _ = annotation_submit(
            task=task,
            annotator=request.user,
            values=values,
            client_id=request.POST.get("client_id"),
            lead_time_s=request.POST.get("lead_time_s"),
        )
    except ValidationError as exc:
        errors = exc.message_dict
        assignment = lease_of(request.user, task)
        if assignment is None:
            assignment = Assignment(task=task, project=project, annotator=request.user)
        if not request.htmx:
            messages.error(request, "; ".join(m for ms in errors.values() for m in ms))
            return redirect("labeling:label", project_id=project.pk)
        return _workspace(request, project, assignment, values=values, errors=errors)
    except AnswerConflict as exc:
        notice = f"Not saved: {exc}"
    else:
        notice = "Saved."
        draft_discard(task_id=task.pk, annotator=request.user)
        # Taking back a submit means changing it: the answer stays, with its history.
        undo = {"url": reverse("labeling:answer-revise", args=[project.pk, annotation.pk])}
    if not request.htmx:
        messages.info(request, notice)
        return redirect("labeling:label", project_id=project.pk)
    assignment, closed = _next(request, project)
    return _workspace(
        request, project, assignment, notice=notice, saved=task.pk, closed=closed, undo=undo
    )


@login_required
@require_POST
def label_skip(request, project_id: int, assignment_id: int):
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    assignment = own_lease(request.user, project, assignment_id)
    undo = None
    try:
        assignment_skip(assignment=assignment, reason=_skip_reason(project, request.POST))
        notice = "Skipped."
        undo = {
            "url": reverse("labeling:label-unskip", args=[project.pk, assignment.pk]),
            "post": True,
        }
    except ValidationError:
        notice = "Not skipped: say why you skip this task."
    except AnswerConflict as exc:
        notice = f"Not skipped: {exc}"
    if not request.htmx:
        messages.info(request, notice)
        return redirect("labeling:label", project_id=project.pk)
    next_assignment, closed = _next(request, project)
    return _workspace(
        request,
        project,
        next_assignment,
        notice=notice,
        saved=assignment.task_id,
        closed=closed,
        undo=undo,
    )


def _skip_reason(project, post) -> str:
    """A preset chosen in the skip dialog, or the annotator's own words (which win)."""
    own = (post.get("reason") or "").strip()
    return own or (post.get("preset") or "").strip()


@login_required
@require_POST
def label_unskip(request, project_id: int, assignment_id: int):
    """Take back a skip: the task comes back, if it still has room."""
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    assignment = own_lease(request.user, project, assignment_id)
    try:
        assignment = assignment_unskip(assignment=assignment)
    except AnswerConflict as exc:
        notice = f"Not taken back: {exc}"
        if not request.htmx:
            messages.info(request, notice)
            return redirect("labeling:label", project_id=project.pk)
        next_assignment, closed = _next(request, project)
        return _workspace(request, project, next_assignment, notice=notice, closed=closed)
    if not request.htmx:
        messages.info(request, "Skip taken back.")
        return redirect("labeling:label", project_id=project.pk)
    return _workspace(request, project, assignment, notice="Skip taken back.")


@login_required
def my_answers(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    answers = answers_of(request.user, project)
    page = Paginator(answers, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "labeling/my_answers.html",
        {
            "project": project,
            "page": page,
            "progress": project_progress(project=project, annotator=request.user),
            "feedback": feedback_for(request.user, project)[:20],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def answer_revise(request, project_id: int, annotation_id: int):
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    annotation = own_answer(request.user, project, annotation_id)
    values, errors = annotation.values, {}
    # Revised in the order the answer was first given in.
    order = annotation.shown_order
    if request.method == "POST":
        values = values_from_post(project.questions, request.POST, order)
        try:
            annotation_revise(
                annotation=annotation,
                values=values,
                lead_time_s=request.POST.get("lead_time_s"),
            )
        except ValidationError as exc:
            errors = exc.message_dict
        except AnswerConflict as exc:
            messages.error(request, f"Not revised: {exc}")
            return redirect("labeling:my-answers", project_id=project.pk)
        else:
            messages.success(request, "Answer revised; the earlier version is kept.")
            return redirect("labeling:my-answers", project_id=project.pk)
    task = annotation.task
    return render(
        request,
        "labeling/revise.html",
        {
            "project": project,
            "annotation": annotation,
            "task": task,
            "view": task_view(task.data, order),
            "widgets": question_widgets(
                project.questions, task.data, values=values, errors=errors, order=order
            ),
            "side_by_side": len(task_view(task.data)["responses"]) == 2,
            "revisions": annotation.revisions.all(),
            "errors": errors,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def label_draft(request, project_id: int, task_id: int):
    """Keep the form's state on the server (JSON ``{"fields": {...}}``), debounced by the page."""
    _, task = _project_task(request, project_id, task_id)
    lease = lease_of(request.user, task)
    live = lease is not None and lease.state == Assignment.State.LEASED
    if not live or lease.expires_at <= timezone.now():
        return JsonResponse({"detail": "This task is not leased to you any more."}, status=409)
    try:
        fields = json_loads(request.body).get("fields")
    except (BadInput, AttributeError) as exc:
        why = f" ({exc})" if isinstance(exc, BadInput) else ""
        return JsonResponse({"detail": f'Send JSON {{"fields": {{...}}}}{why}.'}, status=400)
    try:
        draft = draft_save(task=task, annotator=request.user, fields=fields)
    except ValidationError as exc:
        return JsonResponse({"detail": "; ".join(exc.messages)}, status=400)
    return JsonResponse({"saved_at": draft.saved_at.isoformat()})
