import pytest
from django.urls import reverse

from agreement.models import TaskAgreement
from projects.models import Membership, Project, Role
from tests.factories import AnnotationFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

QUESTIONS = [{"name": "better", "type": "preference"}]


def test_token_is_issued_for_good_credentials_only(api):
    UserFactory(username="ann")
    ok = api().post("/api/v1/auth/token/", {"username": "ann", "password": "pass-word-123"})
    assert ok.status_code == 200
    assert len(ok.json()["token"]) == 40
    bad = api().post("/api/v1/auth/token/", {"username": "ann", "password": "wrong"})
    assert bad.status_code == 400
    assert "detail" in bad.json()


def test_unauthenticated_requests_get_401_json(api):
    response = api().get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_staff_creates_users_others_cannot(api, staff, annotator):
    body = {"username": "newbie", "password": "a-long-pass-phrase"}
    assert api(annotator).post("/api/v1/users/", body).status_code == 403
    created = api(staff).post("/api/v1/users/", body)
    assert created.status_code == 201
    assert created.json()["username"] == "newbie"
    again = api(staff).post("/api/v1/users/", body)
    assert again.status_code == 400
    assert "already exists" in again.json()["detail"]
    weak = api(staff).post("/api/v1/users/", {"username": "w", "password": "123"})
    assert weak.status_code == 400
    assert "password" in weak.json()


def test_staff_creates_project_and_becomes_lead(api, staff):
    response = api(staff).post(
        "/api/v1/projects/",
        {"name": "Helpfulness", "questions": QUESTIONS, "overlap": 2},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "helpfulness"
    assert body["overlap"] == 2
    assert body["role"] == "lead"
    assert Membership.objects.get(project_id=body["id"], user=staff).role == Role.LEAD


def test_invalid_schema_is_refused_with_the_question_and_field(api, staff):
    response = api(staff).post(
        "/api/v1/projects/",
        {"name": "Bad", "questions": [QUESTIONS[0], {"name": "r", "type": "rating", "min": 5}]},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert "questions[1].max" in body
    assert body["detail"].startswith("questions[1]")
    assert not Project.objects.filter(name="Bad").exists()


def test_annotator_cannot_create_projects(api, annotator):
    response = api(annotator).post("/api/v1/projects/", {"name": "x"}, format="json")
    assert response.status_code == 403


def test_project_list_shows_only_member_projects(api, project, annotator, outsider):
    assert [p["id"] for p in api(annotator).get("/api/v1/projects/").json()["results"]] == [
        project.pk
    ]
    assert api(outsider).get("/api/v1/projects/").json()["results"] == []


@pytest.mark.parametrize(
    ("persona", "get_status", "patch_status"),
    [("lead", 200, 200), ("reviewer", 200, 403), ("annotator", 200, 403), ("outsider", 404, 404)],
)
def test_project_role_matrix(request, api, project, persona, get_status, patch_status):
    user = request.getfixturevalue(persona)
    url = f"/api/v1/projects/{project.pk}/"
    assert api(user).get(url).status_code == get_status
    patched = api(user).patch(url, {"overlap": 5}, format="json")
    assert patched.status_code == patch_status


def test_lead_changes_settings_and_bad_values_are_named(api, project, lead):
    url = f"/api/v1/projects/{project.pk}/"
    assert (
        api(lead).patch(url, {"guidelines": "# Be kind"}, format="json").json()["guidelines"]
        == "# Be kind"
    )
    bad = api(lead).patch(url, {"gold_fraction": 2}, format="json")
    assert bad.status_code == 400
    assert "gold_fraction" in bad.json()


def test_answered_question_cannot_be_removed(api, project, lead):
    AnnotationFactory(task=TaskFactory(project=project))
    url = f"/api/v1/projects/{project.pk}/"
    response = api(lead).patch(url, {"questions": project.questions[:1]}, format="json")
    assert response.status_code == 400
    assert "cannot be removed" in response.json()["detail"]
    project.refresh_from_db()
    assert len(project.questions) == 3


def test_members_are_added_by_lead_only(api, project, lead, annotator):
    UserFactory(username="carol")
    url = f"/api/v1/projects/{project.pk}/members/"
    assert api(annotator).post(url, {"username": "carol", "role": "reviewer"}).status_code == 403
    added = api(lead).post(url, {"username": "carol", "role": "reviewer"})
    assert added.status_code == 201
    assert added.json() == {**added.json(), "username": "carol", "role": "reviewer"}
    unknown = api(lead).post(url, {"username": "nobody", "role": "annotator"})
    assert unknown.status_code == 400
    assert "nobody" in unknown.json()["detail"]
    bad_role = api(lead).post(url, {"username": "carol", "role": "boss"})
    assert bad_role.status_code == 400
    listed = {m["username"]: m["role"] for m in api(lead).get(url).json()}
    assert listed["carol"] == "reviewer"


def test_task_list_filters_and_paginates(
    api, project, lead, annotator, django_assert_max_num_queries
):
    tasks = TaskFactory.create_batch(60, project=project)
    tasks[0].state = "disputed"
    tasks[0].save()
    TaskAgreement.objects.create(task=tasks[0], agreement=0.2)
    url = f"/api/v1/projects/{project.pk}/tasks/"
    client = api(lead)
    with django_assert_max_num_queries(8):
        page = client.get(url).json()
    assert page["count"] == 60
    assert len(page["results"]) == 50
    assert page["next"]
    disputed = client.get(url, {"state": "disputed"}).json()
    assert [t["external_id"] for t in disputed["results"]] == [tasks[0].external_id]
    low = client.get(url, {"agreement_max": "0.5"}).json()
    assert low["count"] == 1
    one = client.get(url, {"external_id": tasks[5].external_id}).json()
    assert one["results"][0]["id"] == tasks[5].pk
    bad = client.get(url, {"state": "done"})
    assert bad.status_code == 400
    assert "state" in bad.json()["detail"]
    assert client.get(url, {"agreement_min": "high"}).status_code == 400
    assert api(annotator).get(url).status_code == 403


def test_openapi_schema_is_served(api, annotator):
    response = api(annotator).get(reverse("api:schema"))
    assert response.status_code == 200
    assert b"/api/v1/projects/{project_id}/next-task/" in response.content or b"openapi" in (
        response.content
    )


def test_small_batch_of_tasks_is_imported_idempotently(api, project, lead):
    url = f"/api/v1/projects/{project.pk}/tasks/"
    batch = [
        {"external_id": "t1", "data": {"instruction": "Say hi", "responses": ["hi", "hello"]}},
        {
            "data": {"messages": [{"role": "user", "content": "Count to 3"}]},
            "is_gold": True,
            "gold": {"better": "A"},
        },
    ]
    first = api(lead).post(url, batch, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["created"] == 2
    again = api(lead).post(url, batch, format="json")
    assert again.status_code == 201
    assert again.json()["created"] == 0
    assert again.json()["unchanged"] == 2
    assert project.tasks.count() == 2
    assert project.tasks.get(external_id="t1").data["responses"] == ["hi", "hello"]


def test_one_bad_task_refuses_the_whole_batch(api, project, lead, annotator):
    url = f"/api/v1/projects/{project.pk}/tasks/"
    batch = [{"external_id": "ok", "data": {"instruction": "fine"}}, {"data": {"input": "x"}}]
    response = api(lead).post(url, batch, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("tasks[1]:")
    assert project.tasks.count() == 0
    assert api(lead).post(url, {"data": {}}, format="json").status_code == 400
    assert api(annotator).post(url, batch[:1], format="json").status_code == 403


def test_adaptive_overlap_and_task_order_v1_1(api, staff):
    created = api(staff).post(
        "/api/v1/projects/",
        {"name": "Adaptive", "questions": QUESTIONS, "overlap": 2},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    # New projects complete started tasks first; unset overlap_max is the overlap.
    assert (body["task_order"], body["overlap"], body["overlap_max"]) == ("complete_first", 2, 2)
    url = f"/api/v1/projects/{body['id']}/"
    changed = api(staff).patch(url, {"overlap_max": 4, "task_order": "random"}, format="json")
    assert (changed.json()["overlap_max"], changed.json()["task_order"]) == (4, "random")
    low = api(staff).patch(url, {"overlap_max": 1}, format="json")
    assert low.status_code == 400
    assert "overlap_max" in low.json()["detail"]
    # Raising overlap above the stored maximum is refused too, naming overlap_max.
    assert "overlap_max" in api(staff).patch(url, {"overlap": 5}, format="json").json()
    bad = api(staff).patch(url, {"task_order": "newest"}, format="json")
    assert bad.status_code == 400
    assert "task_order" in bad.json()


def test_tasks_name_their_disputed_questions(api, project, lead):
    disputed = TaskFactory(project=project, state="disputed", disputed_questions=["quality"])
    TaskFactory(project=project)
    url = f"/api/v1/projects/{project.pk}/tasks/"
    rows = {t["id"]: t for t in api(lead).get(url).json()["results"]}
    assert rows[disputed.pk]["disputed_questions"] == ["quality"]
    assert {len(t["disputed_questions"]) for t in rows.values()} == {0, 1}
