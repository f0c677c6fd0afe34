"""Writes for projects and their members. Each function owns its transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from web import rows

from . import sql
from .models import Membership, Project, Role
from .questions import question_type
from .schema import validate_questions

EDITABLE_FIELDS = (
    "name",
    "description",
    "guidelines",
    "questions",
    "overlap",
    "overlap_max",
    "stop_confidence",
    "task_order",
    "shuffle_responses",
    "skip_reasons",
    "gold_fraction",
    "lease_seconds",
    "agreement_threshold",
    "status",
)


def _unique_slug(name: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(name)[:180] or "project"
    slug, n = base, 1
    taken = Project.objects.exclude(pk=exclude_pk)
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


MAX_SKIP_REASONS = 20


def _check_settings(fields: dict[str, Any], project: Project | None = None) -> None:
    errors = {}
    if "overlap" in fields and not (1 <= int(fields["overlap"]) <= 50):
        errors["overlap"] = ["overlap must be between 1 and 50 annotators per task"]
    overlap = int(fields.get("overlap", project.overlap if project else 3))
    top = fields.get("overlap_max", project.overlap_max if project else None)
    if top is not None and not (overlap <= int(top) <= 50):
        errors["overlap_max"] = [f"overlap_max must be between overlap ({overlap}) and 50"]
    confidence = fields.get("stop_confidence")
    if confidence is not None and not (0.5 < float(confidence) < 1):
        errors["stop_confidence"] = ["stop_confidence must be above 0.5 and below 1, or null"]
    if "task_order" in fields and fields["task_order"] not in Project.TaskOrder.values:
        errors["task_order"] = [f"task_order must be one of {', '.join(Project.TaskOrder.values)}"]
    if "skip_reasons" in fields:
        reasons = fields["skip_reasons"]
        if (
            not isinstance(reasons, list)
            or len(reasons) > MAX_SKIP_REASONS
            or not all(isinstance(r, str) and r.strip() and len(r) <= 200 for r in reasons)
        ):
            errors["skip_reasons"] = [
                f"skip_reasons must be a list of at most {MAX_SKIP_REASONS} texts "
                "of 1 to 200 characters"
            ]
    if "gold_fraction" in fields and not (0 <= float(fields["gold_fraction"]) <= 1):
        errors["gold_fraction"] = ["gold_fraction must be between 0 and 1"]
    if "lease_seconds" in fields and not (30 <= int(fields["lease_seconds"]) <= 7 * 86400):
        errors["lease_seconds"] = ["lease_seconds must be between 30 seconds and 7 days"]
    if "agreement_threshold" in fields and not (-1 <= float(fields["agreement_threshold"]) <= 1):
        errors["agreement_threshold"] = ["agreement_threshold must be between -1 and 1"]
    if errors:
        raise ValidationError(errors)


def _check_schema_change(project: Project, questions: list[dict]) -> None:
    """Once answers exist, a question may gain options or text but not lose its meaning."""
    if not project.annotations.exists():
        return
    new = {q["name"]: q for q in questions}
    errors: dict[str, list[str]] = {}
    for index, old in enumerate(project.questions):
        name = old["name"]
        key = f"questions[{index}]"
        if name not in new:
            errors[key] = [f"{name} has answers and cannot be removed"]
        elif new[name]["type"] != old["type"]:
            errors[key] = [f"{name} has answers and cannot change type from {old['type']}"]
        elif problem := question_type(old).schema_change(old, new[name]):
            errors[key] = [problem]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def project_create(*, user: AbstractBaseUser, name: str, **fields: Any) -> Project:
    """Create a project; the creator becomes its lead."""
    unknown = set(fields) - set(EDITABLE_FIELDS) - {"slug"}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: ["is not a project field"]})
    if not name or not name.strip():
        raise ValidationError({"name": ["name is required"]})
    fields["questions"] = validate_questions(fields.get("questions", []))
    _check_settings(fields)
    slug = fields.pop("slug", None) or _unique_slug(name)
    if Project.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": [f"slug {slug!r} is already taken"]})
    project = Project.objects.create(name=name.strip(), slug=slug, created_by=user, **fields)
    Membership.objects.create(project=project, user=user, role=Role.LEAD)
    return project


@transaction.atomic
def project_update(*, project: Project, **fields: Any) -> Project:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: ["is not a field that can be changed"]})
    if "questions" in fields:
        fields["questions"] = validate_questions(fields["questions"])
        _check_schema_change(project, fields["questions"])
    if "name" in fields and not str(fields["name"]).strip():
        raise ValidationError({"name": ["name is required"]})
    _check_settings(fields, project)
    for key, value in fields.items():
        setattr(project, key, value)
    project.save()
    return project


@transaction.atomic
def _keep_a_lead(project: Project, user, new_role: str | None) -> None:
    """Refuse to leave the project without a lead (``new_role`` None: removal)."""
    if new_role == Role.LEAD:
        return
    # Lock the leads so that two leads demoting each other at once cannot both succeed.
    leads = list(
        Membership.objects.select_for_update()
        .filter(project=project, role=Role.LEAD)
        .values_list("user_id", flat=True)
    )
    if leads == [user.pk]:
        raise ValidationError(
            {"role": [f"{user.username} is the project's only lead; make someone else lead first"]}
        )


@transaction.atomic
def membership_set(*, project: Project, username: str, role: str) -> Membership:
    """Add a member or change their role; a project always keeps at least one lead."""
    if role not in Role.values:
        raise ValidationError({"role": [f"role must be one of {', '.join(Role.values)}"]})
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": [f"no user named {username!r}"]})
    _keep_a_lead(project, user, role)
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def membership_remove(*, project: Project, username: str) -> None:
    user = get_user_model().objects.filter(username=username).first()
    if user is not None:
        _keep_a_lead(project, user, None)
    deleted, _ = Membership.objects.filter(project=project, user__username=username).delete()
    if not deleted:
        raise ValidationError({"username": [f"{username!r} is not a member of this project"]})


MAX_MEMBER_LINES = 200


def _member_line(number: int, line: str, default_role: str) -> tuple[str, str]:
    """``alice`` or ``alice reviewer`` / ``alice, reviewer``: (username, role)."""
    parts = line.replace(",", " ").split()
    if len(parts) > 2:
        raise ValidationError({"members": [f"line {number}: write a username and a role at most"]})
    username, role = parts[0], parts[1].lower() if len(parts) == 2 else default_role
    if role not in Role.values:
        raise ValidationError(
            {"members": [f"line {number}: role must be one of {', '.join(Role.values)}"]}
        )
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        raise ValidationError({"members": [f"line {number}: {exc.messages[0]}"]}) from None
    return username, role


@transaction.atomic
def members_add(*, project: Project, text: str, default_role: str) -> list[dict]:
    """Add several members at once, one per line, creating the accounts that do not exist.

    All or nothing: one bad line and nothing changes. A new account gets a
    random password, returned once (as export tokens are) for the lead to pass on.
    """
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ValidationError({"members": ["write at least one username"]})
    if len(lines) > MAX_MEMBER_LINES:
        raise ValidationError({"members": [f"at most {MAX_MEMBER_LINES} members at once"]})
    wanted = [_member_line(n, line, default_role) for n, line in lines]
    names = [username for username, _ in wanted]
    repeated = sorted({u for u in names if names.count(u) > 1})
    if repeated:
        raise ValidationError({"members": [f"named twice: {', '.join(repeated)}"]})
    User = get_user_model()
    existing = {u.username: u for u in User.objects.filter(username__in=names)}
    added = []
    for username, role in wanted:
        password = None
        if username not in existing:
            password = get_random_string(16)
            existing[username] = User.objects.create_user(username=username, password=password)
        membership_set(project=project, username=username, role=role)
        added.append({"username": username, "role": role, "password": password})
    return added


def api_token_issue(*, user) -> Token:
    """The user's API token; one past ``API_TOKEN_TTL_DAYS`` is replaced by a new one."""
    with transaction.atomic():
        token, created = Token.objects.select_for_update().get_or_create(user=user)
        ttl_days = settings.API_TOKEN_TTL_DAYS
        if not created and ttl_days and token.created < timezone.now() - timedelta(days=ttl_days):
            token.delete()
            token = Token.objects.create(user=user)
    return token


def user_create(*, username: str, password: str, email: str = "") -> AbstractBaseUser:
    User = get_user_model()
    if not username:
        raise ValidationError({"username": ["username is required"]})
    try:
        # The rule Django's admin and createsuperuser apply: letters, digits and @.+-_ only.
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from None
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [f"a user named {username!r} already exists"]})
    from django.contrib.auth.password_validation import validate_password

    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    return User.objects.create_user(username=username, password=password, email=email)


def task_words_fill(*, project_id: int) -> int:
    """Write the search words of the project's tasks stored since the last fill.

    Runs after an import (or a batch of tasks) has committed, so that the index
    costs the import nothing; until then the browser searches those tasks
    without it. Takes the imports' lock of the project: while it is held no
    task of the project is being stored, so every task up to the highest one
    with words has them. Returns the number of tasks it wrote.
    """
    with transaction.atomic(), rows.cursor() as cursor:
        cursor.execute(sql.TASK_STORE_LOCK, (sql.TASK_STORE_LOCK_CLASS, project_id))
        cursor.execute(sql.TASK_WORDS_FILL, (project_id, project_id))
        return cursor.rowcount
