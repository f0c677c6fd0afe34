"""Paused and archived projects hand out no tasks and take no answers; the lead still sees all."""

from __future__ import annotations

import uuid

import pytest

from projects.models import Annotation, Project
from tests.factories import AnnotationFactory, TaskFactory

ANSWER = {"better": "A", "quality": 4, "topic": "writing"}
ANSWER_POST = {"q-better": "B", "q-quality": "4", "q-topic": "coding"}
CLOSED = [Project.Status.PAUSED, Project.Status.ARCHIVED]


def _close(project, status):
    project.status = status
    project.save(update_fields=["status"])


@pytest.mark.django_db
@pytest.mark.parametrize("status", CLOSED)
def test_api_hands_out_no_task_and_takes_no_answer(api, project, annotator, lead, status):
    task = TaskFactory(project=project)
    client = api(annotator)
    _close(project, status)
    lease = client.get(f"/api/v1/projects/{project.pk}/next-task/")
    assert lease.status_code == 409
    assert f"This project is {status}" in lease.json()["detail"]
    submit = client.post(
        f"/api/v1/tasks/{task.pk}/annotations/", {"values": ANSWER}, format="json"
    )
    assert submit.status_code == 409
    assert f"This project is {status}" in submit.json()["detail"]
    assert not Annotation.objects.filter(task=task).exists()
    # The lead still sees the project and its tasks.
    assert api(lead).get(f"/api/v1/projects/{project.pk}/").status_code == 200
    assert api(lead).get(f"/api/v1/projects/{project.pk}/tasks/").json()["count"] == 1


@pytest.mark.django_db
def test_active_project_works_again_once_reopened(api, project, annotator):
    task = TaskFactory(project=project)
    _close(project, Project.Status.PAUSED)
    assert api(annotator).get(f"/api/v1/projects/{project.pk}/next-task/").status_code == 409
    _close(project, Project.Status.ACTIVE)
    lease = api(annotator).get(f"/api/v1/projects/{project.pk}/next-task/")
    assert lease.status_code == 200
    assert lease.json()["id"] == task.pk


@pytest.mark.django_db
def test_retry_of_an_answer_stored_before_the_pause_gets_it_back(api, project, annotator):
    task = TaskFactory(project=project)
    client_id = str(uuid.uuid4())
    body = {"values": ANSWER, "client_id": client_id}
    first = api(annotator).post(f"/api/v1/tasks/{task.pk}/annotations/", body, format="json")
    assert first.status_code == 201
    _close(project, Project.Status.PAUSED)
    again = api(annotator).post(f"/api/v1/tasks/{task.pk}/annotations/", body, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("status", CLOSED)
def test_labeling_page_says_why(client, project, annotator, status):
    TaskFactory(project=project)
    _close(project, status)
    client.force_login(annotator)
    page = client.get(f"/projects/{project.pk}/label/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Labeling is closed" in text
    assert f"This project is {status}" in text


@pytest.mark.django_db
def test_page_submit_to_a_paused_project_is_refused_with_the_reason(client, project, annotator):
    task = TaskFactory(project=project)
    client.force_login(annotator)
    client.get(f"/projects/{project.pk}/label/")  # leases the task
    _close(project, Project.Status.PAUSED)
    url = f"/projects/{project.pk}/label/tasks/{task.pk}/submit/"
    htmx = client.post(url, ANSWER_POST, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200
    text = htmx.content.decode()
    assert "Not saved: This project is paused" in text
    assert "Labeling is closed" in text
    plain = client.post(url, ANSWER_POST, follow=True)
    assert plain.status_code == 200
    assert "This project is paused" in plain.content.decode()
    assert not Annotation.objects.filter(task=task).exists()


@pytest.mark.django_db
def test_revising_in_an_archived_project_is_refused(client, project, annotator):
    answer = AnnotationFactory(task=TaskFactory(project=project), annotator=annotator)
    _close(project, Project.Status.ARCHIVED)
    client.force_login(annotator)
    url = f"/projects/{project.pk}/my-answers/{answer.pk}/"
    response = client.post(url, ANSWER_POST, follow=True)
    assert response.status_code == 200
    assert "Not revised: This project is archived" in response.content.decode()
    answer.refresh_from_db()
    assert answer.values == {"better": "A", "quality": 4, "topic": "writing"}
    assert not answer.revisions.exists()
