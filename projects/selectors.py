"""Reads that respect who is asking. Fetch projects and tasks only through these,
so one forgotten filter cannot leak another project's data."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.http import Http404

from web import rows
from web.input import BadInput, strict_int

from . import sql
from .models import Membership, Project, Role, Task

ALL_ROLES = frozenset(Role.values)
REVIEW_ROLES = frozenset({Role.LEAD, Role.REVIEWER})
LEAD_ONLY = frozenset({Role.LEAD})
# Reviewers judge others' answers; they do not label.
LABEL_ROLES = frozenset({Role.ANNOTATOR, Role.LEAD})


def can_create_projects(user: AbstractBaseUser) -> bool:
    return user.is_authenticated and (user.is_staff or user.has_perm("projects.add_project"))


def _with_role(queryset: QuerySet, user: AbstractBaseUser, project_field: str = "pk"):
    """Annotate each row with the user's role in its project: no query per row."""
    if not user.is_authenticated or user.is_staff:
        return queryset
    role = Membership.objects.filter(project=OuterRef(project_field), user=user).values("role")[:1]
    return queryset.annotate(member_role=Subquery(role), member_role_user=Value(user.pk))


def projects_for_user(user: AbstractBaseUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_staff:
        return Project.objects.all()
    return _with_role(Project.objects.filter(memberships__user=user).distinct(), user)


def project_role(user: AbstractBaseUser, project: Project) -> str | None:
    """The user's role in the project; staff count as leads everywhere."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.LEAD
    if getattr(project, "member_role_user", None) == user.pk:
        return project.member_role
    cached = getattr(project, "_role_cache", {})
    if user.pk not in cached:
        cached[user.pk] = (
            Membership.objects.filter(project=project, user=user)
            .values_list("role", flat=True)
            .first()
        )
        project._role_cache = cached
    return cached[user.pk]


def _check_role(user: AbstractBaseUser, project: Project, roles: frozenset[str]) -> None:
    role = project_role(user, project)
    if role is None:
        raise Http404("No such project.")
    if role not in roles:
        raise PermissionDenied(f"This needs the role {' or '.join(sorted(roles))} in the project.")


_MAX_ID = 2**63 - 1


def _id(value: int | str) -> int | None:
    try:
        number = strict_int(value, "id")
    except BadInput:
        return None
    return number if 0 < number <= _MAX_ID else None


def _remember_role(project: Project, user: AbstractBaseUser, role: str | None) -> None:
    if user.is_authenticated and not user.is_staff:
        project.member_role = role
        project.member_role_user = user.pk


def _row_for_user(query: str, user: AbstractBaseUser, raw_id: int | str, missing: str):
    """The row of ``query`` for (user, id); a 404 for an id that is not a valid key or not there."""
    pk = _id(raw_id)
    row = None if pk is None else rows.fetchone(query, [user.pk, pk])
    if row is None:
        raise Http404(missing)
    return row


def project_for_user(
    user: AbstractBaseUser, project_id: int | str, *, roles: frozenset[str] = ALL_ROLES
) -> Project:
    """The project if the user may see it with one of ``roles``.

    A project the user is not a member of is a 404 (its existence is not
    revealed); a member without a fitting role gets a 403. One query.
    """
    row = _row_for_user(sql.PROJECT_FOR_USER, user, project_id, "No such project.")
    project = rows.instance(Project, row)
    _remember_role(project, user, row[-1])
    _check_role(user, project, roles)
    return project


def task_for_user(
    user: AbstractBaseUser, task_id: int | str, *, roles: frozenset[str] = ALL_ROLES
) -> Task:
    """The task (with its project) if the user may see it with one of ``roles``. One query."""
    row = _row_for_user(sql.TASK_FOR_USER, user, task_id, "No such task.")
    task = rows.instance(Task, row)
    task.project = rows.instance(Project, row, rows.width(Task))
    _remember_role(task.project, user, row[-1])
    _check_role(user, task.project, roles)
    return task


def members_of(project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("role", "user__username")


def task_counts(project: Project) -> dict[str, int]:
    """Tasks per state, plus the total, in one query."""
    from django.db.models import Count

    counts = dict.fromkeys(Task.State.values, 0)
    for row in project.tasks.values("state").annotate(n=Count("id")).order_by():
        counts[row["state"]] = row["n"]
    counts["total"] = sum(counts[s] for s in Task.State.values)
    return counts


def tasks_filtered(project: Project, params) -> QuerySet[Task]:
    """Tasks of a project filtered by the list endpoint's query parameters.

    ``state`` (one or comma-separated), ``agreement_min``/``agreement_max``,
    ``external_id``, ``is_gold``, ``import`` (the id of the import job that stored
    the task). Raises ValueError naming a bad parameter.
    """
    tasks = project.tasks.with_agreement()
    if state := params.get("state"):
        states = [s for s in state.split(",") if s]
        bad = [s for s in states if s not in Task.State.values]
        if bad:
            raise ValueError(f"state: {bad[0]!r} is not one of {', '.join(Task.State.values)}")
        tasks = tasks.filter(state__in=states)
    for param, lookup in (("agreement_min", "agreement__gte"), ("agreement_max", "agreement__lte")):
        if (raw := params.get(param)) not in (None, ""):
            try:
                tasks = tasks.filter(**{lookup: float(raw)})
            except ValueError:
                raise ValueError(f"{param}: {raw!r} is not a number") from None
    if external_id := params.get("external_id"):
        tasks = tasks.filter(external_id=external_id)
    if (gold := params.get("is_gold")) in ("true", "false", "1", "0"):
        tasks = tasks.filter(is_gold=gold in ("true", "1"))
    if raw := (params.get("import") or "").strip():
        import_id = _id(raw)
        if import_id is None:
            raise ValueError(f"import: {raw!r} is not a whole number")
        # From the import's first task on: an import's tasks are (nearly) one run
        # of ids, which the planner does not know, so it would walk the ids of
        # every earlier task to reach them (190-330 ms at a million).
        first = Task.objects.filter(import_id=import_id).order_by("id").values("id")[:1]
        tasks = tasks.filter(import_id=import_id, id__gte=Subquery(first))
    return tasks.order_by("id")


def progress_of(projects) -> dict[int, dict[str, int]]:
    """``{project id: {"done", "total"}}`` for many projects in one query (done: complete or
    resolved)."""
    from django.db.models import Count, Q

    done = Q(state__in=[Task.State.COMPLETE, Task.State.RESOLVED])
    rows = (
        Task.objects.filter(project__in=[p.pk for p in projects])
        .values("project_id")
        .annotate(total=Count("id"), done=Count("id", filter=done))
        .order_by()
    )
    return {r["project_id"]: {"done": r["done"], "total": r["total"]} for r in rows}
