"""The annotator workspace: label tasks one after another, skip, revise."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from labeling.api import LABEL_ROLES
from labeling.forms import question_widgets, task_view, values_from_post
from labeling.models import Assignment
from labeling.selectors import answers_of, feedback_for, lease_of, own_answer, own_lease
from labeling.services import (
    AnswerConflict,
    annotation_revise,
    annotation_submit,
    assignment_lease_next,
    assignment_skip,
    project_progress,
)
from projects.selectors import project_for_user, task_for_user

PAGE = "labeling/label.html"


def _workspace(request, project, assignment, *, values=None, errors=None, notice="", saved=None):
    context = {
        "project": project,
        "assignment": assignment,
        "progress": project_progress(project=project, annotator=request.user),
        "notice": notice,
        "saved_task": saved,
        "errors": errors or {},
    }
    if assignment is not None:
        task = assignment.task
        context["task"] = task
        context["view"] = task_view(task.data)
        context["widgets"] = question_widgets(
            project.questions, task.data, values=values, errors=errors
        )
        context["side_by_side"] = context["view"]["n_responses"] == 2
    template = f"{PAGE}#workspace" if request.htmx else PAGE
    return render(request, template, context)


@login_required
def label(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    assignment = assignment_lease_next(project=project, annotator=request.user)
    return _workspace(request, project, assignment)


@login_required
@require_POST
def label_submit(request, project_id: int, task_id: int):
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    task = task_for_user(request.user, task_id, roles=LABEL_ROLES)
    if task.project_id != project.pk:
        raise Http404("No such task.")
    values = values_from_post(project.questions, request.POST)
    try:
        annotation_submit(
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
    if not request.htmx:
        messages.info(request, notice)
        return redirect("labeling:label", project_id=project.pk)
    assignment = assignment_lease_next(project=project, annotator=request.user)
    return _workspace(request, project, assignment, notice=notice, saved=task.pk)


@login_required
@require_POST
def label_skip(request, project_id: int, assignment_id: int):
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    assignment = own_lease(request.user, project, assignment_id)
    try:
        assignment_skip(assignment=assignment, reason=request.POST.get("reason", ""))
        notice = "Skipped."
    except ValidationError:
        notice = "Not skipped: say why you skip this task."
    except AnswerConflict as exc:
        notice = f"Not skipped: {exc}"
    if not request.htmx:
        messages.info(request, notice)
        return redirect("labeling:label", project_id=project.pk)
    next_assignment = assignment_lease_next(project=project, annotator=request.user)
    return _workspace(request, project, next_assignment, notice=notice, saved=assignment.task_id)


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
    if request.method == "POST":
        values = values_from_post(project.questions, request.POST)
        try:
            annotation_revise(
                annotation=annotation,
                values=values,
                lead_time_s=request.POST.get("lead_time_s"),
            )
        except ValidationError as exc:
            errors = exc.message_dict
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
            "view": task_view(task.data),
            "widgets": question_widgets(project.questions, task.data, values=values, errors=errors),
            "side_by_side": len(task_view(task.data)["responses"]) == 2,
            "revisions": annotation.revisions.all(),
            "errors": errors,
        },
        status=400 if errors else 200,
    )
