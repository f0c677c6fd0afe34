"""Query counts of the import pages and the API task list, measured with several rows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agreement.models import TaskAgreement
from imports.models import ImportJob
from tests.conftest import page_queries as _get
from tests.factories import TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(project, lead):
    """Six finished imports, by two different users, with errors."""
    other = UserFactory(username="otherlead")
    return [
        ImportJob.objects.create(
            project=project,
            created_by=lead if n % 2 else other,
            file_path=f"/imports/{n}.jsonl",
            filename=f"batch-{n}.jsonl",
            state=ImportJob.State.DONE,
            created_count=10,
            error_count=1,
            errors=[{"line": 3, "message": "not JSON"}],
        )
        for n in range(6)
    ]




def test_import_list_queries(client, lead, jobs, project, django_assert_num_queries):
    url = reverse("imports:import-list", args=[project.pk])
    # Session, user, project with role, the imports.
    response = _get(client, lead, url, django_assert_num_queries, 4)
    assert "batch-5.jsonl" in response.content.decode()


def test_import_detail_queries(client, lead, jobs, project, django_assert_num_queries):
    url = reverse("imports:import-detail", args=[project.pk, jobs[0].pk])
    # Session, user, project with role, the import.
    _get(client, lead, url, django_assert_num_queries, 4)


def test_api_task_list_queries(api, project, lead, django_assert_num_queries):
    tasks = TaskFactory.create_batch(12, project=project)
    for task in tasks[:6]:
        TaskAgreement.objects.create(task=task, agreement=0.5)
    client = api(lead)
    # Token, project with role, the count, the page of tasks with their agreement.
    with django_assert_num_queries(4):
        response = client.get(f"/api/v1/projects/{project.pk}/tasks/")
    assert response.json()["count"] == 12
