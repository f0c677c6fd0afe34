"""Query counts of the labeling hot paths: next task and submit.

Measured with several tasks, answers and members, so a query per row would
show. The tests run inside a transaction, so each ``transaction.atomic()``
of a service counts as a SAVEPOINT and a RELEASE here.
"""

from __future__ import annotations

import pytest

from projects.models import Role
from tests.factories import AnnotationFactory, MembershipFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

ANSWER = {"better": "A", "quality": 4, "topic": "writing"}


@pytest.fixture
def busy(project):
    """Six tasks, five other annotators, and answers from them on most tasks."""
    others = [UserFactory(username=f"other{n}") for n in range(5)]
    for user in others:
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    tasks = TaskFactory.create_batch(6, project=project)
    for task in tasks[:4]:
        for user in others[:2]:
            AnnotationFactory(task=task, annotator=user, values=dict(ANSWER))
    return tasks


def test_next_task_queries(api, project, annotator, busy, django_assert_num_queries):
    client = api(annotator)
    url = f"/api/v1/projects/{project.pk}/next-task/"
    # Token, project, active lease; then in the transaction: the candidate and the lease.
    with django_assert_num_queries(7):
        first = client.get(url)
    assert first.status_code == 200
    # The lease already held comes back: token, project, active lease.
    with django_assert_num_queries(3):
        again = client.get(url)
    assert again.json()["id"] == first.json()["id"]


def test_submit_queries(api, project, annotator, busy, django_assert_num_queries):
    client = api(annotator)
    task_id = client.get(f"/api/v1/projects/{project.pk}/next-task/").json()["id"]
    # Token, task with project and role; then in the transaction: the lock and the submit.
    with django_assert_num_queries(6):
        response = client.post(
            f"/api/v1/tasks/{task_id}/annotations/", {"values": ANSWER}, format="json"
        )
    assert response.status_code == 201
