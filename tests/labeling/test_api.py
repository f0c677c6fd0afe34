"""The labeling endpoints of the REST contract."""

from __future__ import annotations

import uuid

import pytest

from projects.models import Annotation, Task
from tests.factories import TaskFactory

ANSWER = {"better": "A", "quality": 4, "topic": "writing"}


@pytest.mark.django_db
def test_next_task_leases_and_hides_gold(api, project, annotator):
    task = TaskFactory(project=project, is_gold=True, gold=ANSWER)
    response = api(annotator).get(f"/api/v1/projects/{project.pk}/next-task/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == task.pk
    assert body["external_id"] == task.external_id
    assert body["data"] == task.data
    assert body["lease_expires_at"]
    assert "gold" not in body
    assert "is_gold" not in body
    # The same lease again, not a second task.
    assert api(annotator).get(f"/api/v1/projects/{project.pk}/next-task/").json()["id"] == task.pk


@pytest.mark.django_db
def test_next_task_is_204_when_nothing_is_left(api, project, annotator):
    response = api(annotator).get(f"/api/v1/projects/{project.pk}/next-task/")
    assert response.status_code == 204


@pytest.mark.django_db
def test_submit_then_repeat_returns_the_same_annotation(api, project, annotator):
    task = TaskFactory(project=project)
    body = {"values": ANSWER, "client_id": str(uuid.uuid4()), "lead_time_s": 8.2}
    first = api(annotator).post(f"/api/v1/tasks/{task.pk}/annotations/", body, format="json")
    assert first.status_code == 201
    again = api(annotator).post(f"/api/v1/tasks/{task.pk}/annotations/", body, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["values"] == ANSWER
    assert first.json()["annotator"] == "annotator"
    assert Annotation.objects.count() == 1
    assert Task.objects.get(pk=task.pk).annotation_count == 1


@pytest.mark.django_db
def test_bad_answers_are_400_naming_the_field(api, project, annotator):
    task = TaskFactory(project=project)
    url = f"/api/v1/tasks/{task.pk}/annotations/"
    response = api(annotator).post(url, {"values": {**ANSWER, "topic": "poetry"}}, format="json")
    assert response.status_code == 400
    assert "values.topic" in response.json()
    response = api(annotator).post(url, {"values": ANSWER, "client_id": "nope"}, format="json")
    assert response.status_code == 400
    assert "client_id" in response.json()
    response = api(annotator).post(url, {"client_id": str(uuid.uuid4())}, format="json")
    assert response.status_code == 400
    assert "values" in response.json()
    assert not Annotation.objects.exists()


@pytest.mark.django_db
def test_malformed_submits_are_400(api, project, annotator):
    task = TaskFactory(project=project)
    url = f"/api/v1/tasks/{task.pk}/annotations/"
    response = api(annotator).post(url, ["not", "an", "object"], format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "The body must be a JSON object."
    response = api(annotator).post(url, {"client_id": str(uuid.uuid4())}, format="json")
    assert response.status_code == 400
    assert response.json()["values"] == ["This field is required."]
    response = api(annotator).post(url, {"values": ANSWER, "lead_time_s": -2}, format="json")
    assert response.status_code == 400
    assert "lead_time_s" in response.json()
    assert not Annotation.objects.exists()


@pytest.mark.django_db
def test_ids_out_of_range_are_404(api, project, annotator):
    huge = 2**70
    assert api(annotator).get(f"/api/v1/projects/{huge}/next-task/").status_code == 404
    url = f"/api/v1/tasks/{huge}/annotations/"
    assert api(annotator).post(url, {"values": ANSWER}, format="json").status_code == 404


@pytest.mark.django_db
def test_token_must_exist_and_belong_to_an_active_user(api, project, annotator):
    client = api(annotator)
    url = f"/api/v1/projects/{project.pk}/next-task/"
    assert client.get(url).status_code == 204
    annotator.is_active = False
    annotator.save()
    response = client.get(url)
    assert response.status_code == 401
    assert response.json()["detail"] == "User inactive or deleted."
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get(url)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


@pytest.mark.django_db
def test_an_api_answer_may_correct_an_assistant_turn(api, project, annotator):
    project.questions = [{"name": "reply", "type": "text"}]
    project.save()
    messages = [
        {"role": "user", "content": "2 + 2?"},
        {"role": "assistant", "content": "5"},
        {"role": "user", "content": "Sure?"},
    ]
    task = TaskFactory(project=project, data={"messages": messages})
    url = f"/api/v1/tasks/{task.pk}/annotations/"
    wrong = api(annotator).post(url, {"values": {"reply": {"text": "4", "turn": 0}}}, format="json")
    assert wrong.status_code == 400
    assert wrong.json()["values.reply"] == ["reply turn must be the index of an assistant turn (1)"]
    right = api(annotator).post(url, {"values": {"reply": {"text": "4", "turn": 1}}}, format="json")
    assert right.status_code == 201
    assert right.json()["values"] == {"reply": {"text": "4", "turn": 1}}
    assert right.json()["created_at"].endswith("Z")


@pytest.mark.django_db
def test_second_answer_by_the_same_annotator_is_409(api, project, annotator):
    task = TaskFactory(project=project)
    url = f"/api/v1/tasks/{task.pk}/annotations/"
    assert api(annotator).post(url, {"values": ANSWER}, format="json").status_code == 201
    response = api(annotator).post(url, {"values": ANSWER}, format="json")
    assert response.status_code == 409
    assert "already answered" in response.json()["detail"]


@pytest.mark.django_db
def test_roles(api, project, annotator, reviewer, lead, outsider):
    task = TaskFactory(project=project)
    next_url = f"/api/v1/projects/{project.pk}/next-task/"
    submit_url = f"/api/v1/tasks/{task.pk}/annotations/"
    import_url = f"/api/v1/projects/{project.pk}/annotations/import/"
    assert api(outsider).get(next_url).status_code == 404
    assert api(outsider).post(submit_url, {"values": ANSWER}, format="json").status_code == 404
    assert api(reviewer).get(next_url).status_code == 403
    assert api(reviewer).post(submit_url, {"values": ANSWER}, format="json").status_code == 403
    assert api(annotator).post(import_url, [], format="json").status_code == 403
    assert api().get(next_url).status_code in (401, 403)
    assert api(lead).get(next_url).status_code == 200


@pytest.mark.django_db
def test_import_reports_errors_per_row(api, project, lead, annotator):
    TaskFactory(project=project, external_id="t1")
    url = f"/api/v1/projects/{project.pk}/annotations/import/"
    bad = [
        {"external_id": "t1", "annotator": "annotator", "values": ANSWER},
        {"external_id": "t1", "annotator": "nobody", "values": ANSWER},
    ]
    response = api(lead).post(url, bad, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 1, "field": "annotator", "message": "no user 'nobody'; create the account first"}
    ]
    assert not Annotation.objects.exists()
    response = api(lead).post(url, {"annotations": bad[:1]}, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 1
    assert Annotation.objects.get().source == "import"
    response = api(lead).post(url, {"annotations": "x"}, format="json")
    assert response.status_code == 400
    odd = [{"external_id": ["t1"], "annotator": {"a": 1}, "values": ANSWER}, "junk"]
    response = api(lead).post(url, odd, format="json")
    assert response.status_code == 400
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [
        (0, "external_id"),
        (0, "annotator"),
        (1, "row"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_call_after_the_database_dropped_the_connection_still_works(api, project, annotator):
    import psycopg
    from django.db import connection

    client = api(annotator)
    url = f"/api/v1/projects/{project.pk}/next-task/"
    assert client.get(url).status_code == 204
    task = TaskFactory(project=project)
    # The server ends the idle connection (a restart, an idle timeout)...
    db = connection.settings_dict
    dsn = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    # ...then a new request starts, as a real server's request_started handler does it.
    connection.close_if_unusable_or_obsolete()
    response = client.get(url)
    assert response.status_code == 200
    assert response.json()["id"] == task.pk
