"""The API token check stays one query, whatever else the call does."""

from __future__ import annotations

import pytest

from tests.factories import TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_token_check_is_one_query(api, project, annotator, django_assert_num_queries):
    TaskFactory.create_batch(5, project=project)
    for n in range(5):
        UserFactory(username=f"someone{n}")
        api(UserFactory(username=f"holder{n}"))  # other tokens in the table
    client = api(annotator)
    # The token (with its user), the project with the caller's role, the task counts.
    with django_assert_num_queries(3) as queries:
        response = client.get(f"/api/v1/projects/{project.pk}/")
    assert response.status_code == 200
    assert "authtoken_token" in queries.captured_queries[0]["sql"]


def test_a_wrong_token_costs_one_query(api, project, django_assert_num_queries):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    with django_assert_num_queries(1):
        response = client.get(f"/api/v1/projects/{project.pk}/")
    assert response.status_code == 401
