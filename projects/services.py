"""Writes for projects and their members. Each function owns its transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from .models import Membership, Project, Role
from .questions import question_type
from .schema import validate_questions

EDITABLE_FIELDS = (
    "name",
    "description",
    "guidelines",
    "questions",
    "overlap",
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


def _check_settings(fields: dict[str, Any]) -> None:
    errors = {}
    if "overlap" in fields and not (1 <= int(fields["overlap"]) <= 50):
        errors["overlap"] = ["overlap must be between 1 and 50 annotators per task"]
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
    _check_settings(fields)
    for key, value in fields.items():
        setattr(project, key, value)
    project.save()
    return project


@transaction.atomic
def membership_set(*, project: Project, username: str, role: str) -> Membership:
    """Add a member or change their role."""
    if role not in Role.values:
        raise ValidationError({"role": [f"role must be one of {', '.join(Role.values)}"]})
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": [f"no user named {username!r}"]})
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def membership_remove(*, project: Project, username: str) -> None:
    deleted, _ = Membership.objects.filter(project=project, user__username=username).delete()
    if not deleted:
        raise ValidationError({"username": [f"{username!r} is not a member of this project"]})


def user_create(*, username: str, password: str, email: str = "") -> AbstractBaseUser:
    User = get_user_model()
    if not username:
        raise ValidationError({"username": ["username is required"]})
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [f"a user named {username!r} already exists"]})
    from django.contrib.auth.password_validation import validate_password

    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    return User.objects.create_user(username=username, password=password, email=email)
