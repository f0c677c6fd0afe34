"""Query counts of the reviewer's pages, measured with several disputed tasks and answers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agreement.services import agreement_snapshot_create
from projects.models import Role, Task
from tests.conftest import page_queries as _get
from tests.factories import AnnotationFactory, MembershipFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

ANSWERS = [("A", 5, "writing"), ("B", 1, "coding"), ("tie", 3, "other")]


@pytest.fixture
def disputed(project):
    """Six tasks answered by five annotators who disagree, an agreement snapshot computed."""
    people = [UserFactory(username=f"ann{n}") for n in range(5)]
    for person in people:
        MembershipFactory(project=project, user=person, role=Role.ANNOTATOR)
    tasks = TaskFactory.create_batch(6, project=project, state=Task.State.COMPLETE)
    for i, task in enumerate(tasks):
        for j, person in enumerate(people):
            better, quality, topic = ANSWERS[(i + j) % len(ANSWERS)]
            AnnotationFactory(
                task=task,
                annotator=person,
                values={"better": better, "quality": quality, "topic": topic},
            )
    project.agreement_threshold = 0.5
    project.save()
    agreement_snapshot_create(project_id=project.id, bootstrap=50)
    found = list(Task.objects.filter(project=project, state=Task.State.DISPUTED))
    assert len(found) >= 3
    return found




def test_dashboard_queries(client, reviewer, disputed, project, django_assert_num_queries):
    url = reverse("agreement:dashboard", args=[project.pk])
    # Session, user, project with role, the latest snapshot, the trend's history, the
    # prompts of the lowest-agreement tasks (one query for all of them).
    response = _get(client, reviewer, url, django_assert_num_queries, 6)
    assert "ann4" in response.content.decode()


def test_review_queue_queries(client, reviewer, disputed, project, django_assert_num_queries):
    url = reverse("agreement:review-queue", args=[project.pk])
    # Session, user, project with role, the queue.
    response = _get(client, reviewer, url, django_assert_num_queries, 4)
    html = response.content.decode()
    assert all(task.external_id in html for task in disputed)


def test_review_task_queries(client, reviewer, disputed, project, django_assert_num_queries):
    url = reverse("agreement:review-task", args=[project.pk, disputed[0].pk])
    # Session, user, project with role, the task, its resolution, its answers with
    # annotators, the next disputed task.
    response = _get(client, reviewer, url, django_assert_num_queries, 7)
    assert "ann4" in response.content.decode()
