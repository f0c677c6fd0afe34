"""Reads for exports that respect who is asking (a user or an export token)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from projects.models import Project
from projects.selectors import LEAD_ONLY, REVIEW_ROLES, project_for_user
from web.input import BadInput, strict_int

from .models import Export, ExportToken

# Exports hold every annotator's answers: leads and reviewers may read them.
READ_ROLES = REVIEW_ROLES
WRITE_ROLES = LEAD_ONLY


def project_for_export_reader(
    request, project_id: int | str, *, roles: frozenset[str] = READ_ROLES
) -> Project:
    """The project for a signed-in member with ``roles``, or for a token of that project."""
    token = getattr(request, "auth", None)
    if isinstance(token, ExportToken):
        if str(token.project_id) != str(project_id):
            raise Http404("No such project.")
        return token.project
    return project_for_user(request.user, project_id, roles=roles)


def export_for_reader(request, export_id: int | str) -> Export:
    try:
        pk = strict_int(export_id, "id", minimum=1)
        export = Export.objects.select_related("project").get(pk=pk)
    except (Export.DoesNotExist, BadInput):
        raise Http404("No such export.") from None
    project_for_export_reader(request, export.project_id)
    return export


def exports_of(project: Project) -> QuerySet[Export]:
    return project.exports.select_related("created_by").order_by("-created_at", "-id")


def export_latest_ready(project: Project, format: str) -> Export | None:
    return (
        project.exports.filter(format=format, state=Export.State.READY)
        .order_by("-finished_at", "-id")
        .first()
    )


def tokens_of(project: Project) -> QuerySet[ExportToken]:
    return project.export_tokens.select_related("created_by").order_by("-created_at")
