"""Reads that respect who is asking. Fetch projects and tasks only through these,
so one forgotten filter cannot leak another project's data."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from .models import Membership, Project, Role, Task

ALL_ROLES = frozenset(Role.values)
REVIEW_ROLES = frozenset({Role.LEAD, Role.REVIEWER})
LEAD_ONLY = frozenset({Role.LEAD})


def can_create_projects(user: AbstractBaseUser) -> bool:
    return user.is_authenticated and (user.is_staff or user.has_perm("projects.add_project"))


def projects_for_user(user: AbstractBaseUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user).distinct()


def project_role(user: AbstractBaseUser, project: Project) -> str | None:
    """The user's role in the project; staff count as leads everywhere."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.LEAD
    cached = getattr(project, "_role_cache", {})
    if user.pk not in cached:
        cached[user.pk] = (
            Membership.objects.filter(project=project, user=user)
            .values_list("role", flat=True)
            .first()
        )
        project._role_cache = cached
    return cached[user.pk]


def project_for_user(
    user: AbstractBaseUser, project_id: int | str, *, roles: frozenset[str] = ALL_ROLES
) -> Project:
    """The project if the user may see it with one of ``roles``.

    A project the user is not a member of is a 404 (its existence is not
    revealed); a member without a fitting role gets a 403.
    """
    try:
        project = Project.objects.get(pk=int(project_id))
    except (Project.DoesNotExist, ValueError, TypeError):
        raise Http404("No such project.") from None
    role = project_role(user, project)
    if role is None:
        raise Http404("No such project.")
    if role not in roles:
        raise PermissionDenied(f"This needs the role {' or '.join(sorted(roles))} in the project.")
    return project


def task_for_user(
    user: AbstractBaseUser, task_id: int | str, *, roles: frozenset[str] = ALL_ROLES
) -> Task:
    try:
        task = Task.objects.select_related("project").get(pk=int(task_id))
    except (Task.DoesNotExist, ValueError, TypeError):
        raise Http404("No such task.") from None
    project_for_user(user, task.project_id, roles=roles)
    return task


def members_of(project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("role", "user__username")
