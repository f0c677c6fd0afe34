"""Lead pages: project list, overview, create/edit with a live form preview, members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import services
from .forms import MemberForm, MembersAddForm, ProjectForm, parse_questions
from .models import Role
from .questions.widgets import question_widgets
from .selectors import (
    LABEL_ROLES,
    LEAD_ONLY,
    can_create_projects,
    members_of,
    progress_of,
    project_for_user,
    project_role,
    projects_for_user,
    task_counts,
)

# What the preview draws the widgets against: a task with two responses.
PREVIEW_TASK = {
    "instruction": "The task's instruction",
    "responses": ["The first response", "The second response"],
}


def _apply_service_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        target = field if field in form.fields else None
        if field.startswith("questions"):
            target = "questions_json"
        for error in errors:
            form.add_error(target, error)


@login_required
def project_list(request):
    projects = projects_for_user(request.user).order_by("name")
    roles = [(p, project_role(request.user, p)) for p in projects]
    progress = progress_of([p for p, _ in roles])
    empty = {"done": 0, "total": 0}
    rows = [(p, role, role in LABEL_ROLES, progress.get(p.pk, empty)) for p, role in roles]
    return render(
        request,
        "projects/project_list.html",
        {"rows": rows, "can_create": can_create_projects(request.user)},
    )


@login_required
def project_detail(request, project_id: int):
    project = project_for_user(request.user, project_id)
    return render(
        request,
        "projects/project_detail.html",
        {
            "project": project,
            "role": project_role(request.user, project),
            "counts": task_counts(project),
        },
    )


@login_required
def project_create(request):
    if not can_create_projects(request.user):
        raise PermissionDenied("You may not create projects.")
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            project = services.project_create(user=request.user, name=fields.pop("name"), **fields)
        except ValidationError as exc:
            _apply_service_errors(form, exc)
        else:
            messages.success(request, f"Created {project.name}. Next: import tasks.")
            return redirect("projects:project-detail", project_id=project.pk)
    return render(request, "projects/project_form.html", {"form": form, "project": None})


@login_required
def project_edit(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        try:
            services.project_update(project=project, **form.service_fields())
        except ValidationError as exc:
            _apply_service_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("projects:project-detail", project_id=project.pk)
    return render(request, "projects/project_form.html", {"form": form, "project": project})


@login_required
@require_POST
def questions_preview(request):
    """Render the annotator's form for the questions being typed (HTMX, live)."""
    try:
        questions = parse_questions(request.POST.get("questions_json", "[]"))
        errors = []
    except ValidationError as exc:
        questions, errors = [], exc.messages
    return render(
        request,
        "projects/partials/questions_preview.html",
        {
            "questions": questions,
            "widgets": question_widgets(questions, PREVIEW_TASK),
            "errors": errors,
        },
    )


@login_required
def member_list(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
    add_form, role_form, created, status = MembersAddForm(), None, [], 200
    if request.method == "POST" and request.POST.get("action") == "add":
        add_form = MembersAddForm(request.POST)
        if add_form.is_valid():
            try:
                added = services.members_add(
                    project=project,
                    text=add_form.cleaned_data["members"],
                    default_role=add_form.cleaned_data["role"],
                )
            except ValidationError as exc:
                _apply_service_errors(add_form, exc)
            else:
                names = ", ".join(f"{a['username']} ({a['role']})" for a in added)
                messages.success(request, f"Added {names}.")
                created = [a for a in added if a["password"]]
                add_form = MembersAddForm()
        if add_form.errors:
            status = 400
    elif request.method == "POST":
        role_form = MemberForm(request.POST)
        if role_form.is_valid():
            try:
                membership = services.membership_set(project=project, **role_form.cleaned_data)
            except ValidationError as exc:
                messages.error(request, "; ".join(exc.messages))
            else:
                messages.success(request, f"{membership.user.username} is now {membership.role}.")
        else:
            messages.error(request, "Choose a member and a role.")
        return redirect("projects:member-list", project_id=project.pk)
    return render(
        request,
        "projects/member_list.html",
        {
            "project": project,
            "members": members_of(project),
            "form": add_form,
            "roles": Role.choices,
            # New accounts' passwords, shown on this one page only.
            "created": created,
        },
        status=status,
    )


@login_required
@require_POST
def member_delete(request, project_id: int, username: str):
    project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
    if username == request.user.username:
        messages.error(request, "You cannot remove yourself.")
    else:
        try:
            services.membership_remove(project=project, username=username)
            messages.success(request, f"Removed {username}.")
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
    return redirect("projects:member-list", project_id=project.pk)
