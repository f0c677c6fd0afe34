"""The exports page: create with filters, watch progress, download, tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from projects.selectors import project_for_user, project_role

from . import services
from .forms import ExportForm, TokenForm
from .http import export_file_response
from .models import ExportToken
from .selectors import READ_ROLES, WRITE_ROLES, export_for_reader, exports_of, tokens_of


def _context(request, project, **extra) -> dict:
    exports = list(exports_of(project)[:50])
    can_write = project_role(request.user, project) in WRITE_ROLES
    api_root = request.build_absolute_uri(reverse("api:export-list", args=[project.pk]))
    latest = request.build_absolute_uri(reverse("api:export-latest", args=[project.pk]))
    return {
        "project": project,
        "exports": exports,
        "busy": any(not e.is_finished for e in exports),
        "can_write": can_write,
        "form": extra.pop("form", None) or ExportForm(),
        "token_form": extra.pop("token_form", None) or TokenForm(),
        "tokens": list(tokens_of(project)) if can_write else [],
        "api_root": api_root,
        "latest_url": latest,
        "api_url": request.build_absolute_uri(reverse("api:schema")).removesuffix("schema/"),
        **extra,
    }


@login_required
def export_list(request, project_id: int):
    if request.method == "POST":
        project = project_for_user(request.user, project_id, roles=WRITE_ROLES)
        form = ExportForm(request.POST)
        if form.is_valid():
            try:
                export = services.export_create(
                    project=project,
                    user=request.user,
                    format=form.cleaned_data["format"],
                    filters=form.filters(),
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(None, f"{field}: {error}")
            else:
                messages.success(request, f"Export {export.pk} queued.")
                return redirect("exports:export-list", project_id=project.pk)
        return render(
            request, "exports/export_list.html", _context(request, project, form=form), status=400
        )
    project = project_for_user(request.user, project_id, roles=READ_ROLES)
    template = "exports/export_list.html"
    if request.htmx:
        template += "#export-rows"
    response = render(request, template, _context(request, project))
    response["Vary"] = "HX-Request"
    return response


@login_required
def export_download(request, pk: int):
    return export_file_response(request, export_for_reader(request, pk))


@login_required
@require_POST
def token_create(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=WRITE_ROLES)
    form = TokenForm(request.POST)
    raw = None
    if form.is_valid():
        try:
            _, raw = services.export_token_create(
                project=project, user=request.user, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            form.add_error("name", exc.messages[0])
    # Rendered, not redirected: the raw token is shown this once.
    return render(
        request,
        "exports/export_list.html",
        _context(request, project, token_form=form if raw is None else None, new_token=raw),
        status=200 if raw else 400,
    )


@login_required
@require_POST
def token_revoke(request, project_id: int, pk: int):
    project = project_for_user(request.user, project_id, roles=WRITE_ROLES)
    token = ExportToken.objects.filter(project=project, pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    services.export_token_revoke(token=token)
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("exports:export-list", project_id=project.pk)
