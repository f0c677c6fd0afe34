"""Drafts on the server: only for the lease holder, bounded, gone once the answer is stored."""

from __future__ import annotations

import json

import pytest

from labeling.drafts import MAX_DRAFT_BYTES
from labeling.models import Assignment, Draft
from tests.factories import TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

FIELDS = {"q-better": ["B"], "q-quality": ["4"], "__elapsed": 12.5}


@pytest.fixture
def leased(client, project, annotator):
    task = TaskFactory(project=project)
    client.force_login(annotator)
    client.get(f"/projects/{project.pk}/label/")  # leases the task
    assert Assignment.objects.filter(task=task, annotator=annotator).exists()
    return task


def _post(client, project, task, body):
    return client.post(
        f"/projects/{project.pk}/label/tasks/{task.pk}/draft/",
        body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
    )


def test_the_lease_holder_saves_a_draft_and_gets_it_back_on_the_page(
    client, project, annotator, leased
):
    response = _post(client, project, leased, {"fields": FIELDS})
    assert response.status_code == 200
    assert Draft.objects.get(task=leased, annotator=annotator).fields == FIELDS
    _post(client, project, leased, {"fields": {**FIELDS, "q-better": ["A"]}})
    assert Draft.objects.filter(task=leased).count() == 1
    page = client.get(f"/projects/{project.pk}/label/").content.decode()
    assert 'id="server-draft"' in page
    assert '"q-better": ["A"]' in page


def test_submit_and_skip_forget_the_draft(client, project, annotator, leased):
    _post(client, project, leased, {"fields": FIELDS})
    client.post(
        f"/projects/{project.pk}/label/tasks/{leased.pk}/submit/",
        {"q-better": "B", "q-quality": "4", "q-topic": "coding"},
    )
    assert not Draft.objects.filter(task=leased).exists()
    # A save that arrives after the submit finds no lease and stores nothing.
    assert _post(client, project, leased, {"fields": FIELDS}).status_code == 409
    assert not Draft.objects.filter(task=leased).exists()


def test_no_draft_without_a_lease_or_with_bad_input(client, project, leased):
    other = UserFactory(username="other")
    from projects.models import Membership, Role

    Membership.objects.create(project=project, user=other, role=Role.ANNOTATOR)
    client.force_login(other)
    assert _post(client, project, leased, {"fields": FIELDS}).status_code == 409
    client.force_login(leased.assignments.get().annotator)
    bad = _post(client, project, leased, "not json")
    assert bad.status_code == 400
    assert "fields" in bad.json()["detail"]
    assert _post(client, project, leased, {"fields": ["a list"]}).status_code == 400
    huge = _post(client, project, leased, {"fields": {"q-text": "x" * (MAX_DRAFT_BYTES + 1)}})
    assert huge.status_code == 400
    assert "at most" in huge.json()["detail"]
    # A NUL cannot be stored: named, not a server error.
    nul = _post(client, project, leased, {"fields": {"q-text": "a\u0000b"}})
    assert nul.status_code == 400
    assert "fields.q-text" in nul.json()["detail"]
    assert not Draft.objects.exists()
