"""Query counts of the lead's project pages, measured with several rows each."""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.models import Role, Task
from tests.conftest import page_queries as _get
from tests.factories import MembershipFactory, ProjectFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowded(project, lead):
    """The lead in six projects; the project with six more members and tasks in every state."""
    for _ in range(5):
        MembershipFactory(project=ProjectFactory(), user=lead, role=Role.LEAD)
        ProjectFactory()  # one the lead does not see
    for n in range(6):
        MembershipFactory(project=project, user=UserFactory(username=f"member{n}"))
    for state in Task.State.values:
        TaskFactory.create_batch(2, project=project, state=state)
    return project




def test_project_list_queries(client, lead, crowded, django_assert_num_queries):
    # Session, user, the projects with the caller's role, the progress of all of them;
    # can_create_projects reads the user's and their groups' permissions.
    response = _get(client, lead, reverse("projects:project-list"), django_assert_num_queries, 6)
    assert response.content.decode().count('href="/projects/') >= 6


def test_project_detail_queries(client, lead, crowded, django_assert_num_queries):
    url = reverse("projects:project-detail", args=[crowded.pk])
    # Session, user, project with role, task counts.
    _get(client, lead, url, django_assert_num_queries, 4)


def test_member_list_queries(client, lead, crowded, django_assert_num_queries):
    url = reverse("projects:member-list", args=[crowded.pk])
    # Session, user, project with role, members with their users.
    response = _get(client, lead, url, django_assert_num_queries, 4)
    assert "member5" in response.content.decode()
