from __future__ import annotations

import hashlib

import factory
from django.contrib.auth import get_user_model

from projects.models import Annotation, Membership, Project, Role, Task

DEFAULT_QUESTIONS = [
    {"name": "better", "type": "preference", "title": "Which response is better?"},
    {
        "name": "quality",
        "type": "rating",
        "title": "Rate response A",
        "min": 1,
        "max": 5,
        "target": "responses.0",
        "labels": {"1": "Unusable", "5": "Excellent"},
    },
    {"name": "topic", "type": "label", "options": ["writing", "coding", "other"]},
]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("pass-word-123")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    guidelines = "Pick the response that follows the instruction best."
    questions = factory.LazyFunction(lambda: [dict(q) for q in DEFAULT_QUESTIONS])
    overlap = 3
    # Responses as stored, so answers in tests read as written; shuffling tests opt in.
    shuffle_responses = False


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"task-{n}")
    data = factory.Sequence(
        lambda n: {
            "instruction": f"Write a haiku about the number {n}.",
            "responses": [f"Response A to {n}", f"Response B to {n}"],
        }
    )
    content_hash = factory.LazyAttribute(
        lambda t: hashlib.sha256(repr(sorted(t.data.items())).encode()).hexdigest()
    )


class AnnotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Annotation

    task = factory.SubFactory(TaskFactory)
    project = factory.LazyAttribute(lambda a: a.task.project)
    annotator = factory.SubFactory(UserFactory)
    values = factory.LazyFunction(lambda: {"better": "A", "quality": 4, "topic": "writing"})
