import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from projects.models import Membership, Project

pytestmark = pytest.mark.django_db


def test_project_list_shows_member_projects(client, project, annotator, outsider):
    client.force_login(annotator)
    page = client.get(reverse("projects:project-list"))
    assert project.name in page.content.decode()
    client.force_login(outsider)
    page = client.get(reverse("projects:project-list"))
    assert project.name not in page.content.decode()
    assert "Ask a project lead" in page.content.decode()


def test_staff_creates_project_through_the_form(client, staff):
    client.force_login(staff)
    questions = [{"name": "better", "type": "preference"}]
    response = client.post(
        reverse("projects:project-create"),
        {
            "name": "Demo",
            "overlap": 3,
            "gold_fraction": 0,
            "lease_seconds": 600,
            "agreement_threshold": 0.5,
            "status": "active",
            "questions_json": json.dumps(questions),
        },
    )
    project = Project.objects.get(name="Demo")
    assert response.status_code == 302
    assert project.questions[0]["title"] == "better"
    assert Membership.objects.get(project=project, user=staff).role == "lead"


def test_form_shows_schema_errors_and_writes_nothing(client, staff):
    client.force_login(staff)
    response = client.post(
        reverse("projects:project-create"),
        {
            "name": "Broken",
            "overlap": 3,
            "gold_fraction": 0,
            "lease_seconds": 600,
            "agreement_threshold": 0.5,
            "status": "active",
            "questions_json": '[{"name": "q", "type": "label", "options": ["x"]}]',
        },
    )
    assert response.status_code == 200
    assert "questions[0] (q): options needs a list of at least two options" in (
        response.content.decode()
    )
    assert not Project.objects.filter(name="Broken").exists()


def test_preview_renders_widgets_and_json_errors(client, staff):
    client.force_login(staff)
    url = reverse("projects:questions-preview")
    good = client.post(
        url,
        {
            "questions_json": json.dumps(
                [{"name": "score", "type": "rating", "min": 1, "max": 3, "labels": {"3": "Great"}}]
            )
        },
    )
    assert "3 · Great" in good.content.decode()
    bad = client.post(url, {"questions_json": "[{"})
    assert "Not valid JSON" in bad.content.decode()


@pytest.mark.parametrize(
    ("persona", "status"), [("lead", 200), ("annotator", 403), ("outsider", 404)]
)
def test_edit_and_members_pages_are_for_leads(request, client, project, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("projects:project-edit", args=[project.pk])).status_code == status
    assert client.get(reverse("projects:member-list", args=[project.pk])).status_code == status


def test_lead_adds_member_on_the_page(client, project, lead, outsider):
    client.force_login(lead)
    response = client.post(
        reverse("projects:member-list", args=[project.pk]),
        {"username": "outsider", "role": "annotator"},
    )
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=outsider).role == "annotator"
    missing = client.post(
        reverse("projects:member-list", args=[project.pk]),
        {"username": "ghost", "role": "lead"},
        follow=True,
    )
    assert "no user named" in missing.content.decode()


def test_lead_adds_several_members_creating_their_accounts(client, project, lead, outsider):
    client.force_login(lead)
    url = reverse("projects:member-list", args=[project.pk])
    page = client.post(
        url, {"action": "add", "members": "outsider reviewer\nnew_ann\n\nnew_rev, reviewer",
              "role": "annotator"},
    )  # fmt: skip
    assert page.status_code == 200
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles["outsider"] == "reviewer"
    assert roles["new_ann"] == "annotator"
    assert roles["new_rev"] == "reviewer"
    html = page.content.decode()
    # Passwords of the new accounts are shown once, and they work.
    password = re.search(r"new_ann  (\S+)", html).group(1)
    assert "outsider  " not in html
    assert client.login(username="new_ann", password=password)
    client.force_login(lead)
    assert "new_ann  " not in client.get(url).content.decode()


def test_a_bad_line_adds_nobody_and_names_the_line(client, project, lead):
    client.force_login(lead)
    url = reverse("projects:member-list", args=[project.pk])
    page = client.post(
        url, {"action": "add", "members": "good_one\nbad name!\n", "role": "annotator"}
    )
    assert page.status_code == 400
    assert "line 2" in page.content.decode()
    assert not Membership.objects.filter(project=project, user__username="good_one").exists()
    assert not get_user_model().objects.filter(username="good_one").exists()


def test_a_project_keeps_at_least_one_lead(client, api, project, lead, annotator):
    client.force_login(lead)
    url = reverse("projects:member-list", args=[project.pk])
    page = client.post(url, {"username": "lead", "role": "annotator"}, follow=True)
    assert "only lead" in page.content.decode()
    assert Membership.objects.get(project=project, user=lead).role == "lead"
    response = api(lead).post(
        f"/api/v1/projects/{project.pk}/members/", {"username": "lead", "role": "reviewer"}
    )
    assert response.status_code == 400
    assert "only lead" in response.json()["detail"]
    # With a second lead, the first may step down.
    client.post(url, {"username": "annotator", "role": "lead"})
    client.post(url, {"username": "lead", "role": "annotator"})
    assert Membership.objects.get(project=project, user=lead).role == "annotator"


def test_reviewers_are_not_offered_labeling(client, project, reviewer, annotator):
    client.force_login(reviewer)
    assert "Start labeling" not in client.get("/").content.decode()
    client.force_login(annotator)
    assert "Start labeling" in client.get("/").content.decode()


def test_403_and_404_pages_use_the_app_layout_and_say_what_to_do(client, project, reviewer):
    client.force_login(reviewer)
    denied = client.get(f"/projects/{project.pk}/label/")
    assert denied.status_code == 403
    page = denied.content.decode()
    assert 'class="topbar"' in page
    assert "This needs the role annotator or lead in the project." in page
    assert "ask a lead of the project" in page

    missing = client.get("/projects/999999/")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert 'class="topbar"' in page
    assert "Back to your projects" in page


def test_project_list_shows_progress_per_project(client, project, annotator):
    from projects.models import Task
    from tests.factories import TaskFactory

    TaskFactory(project=project, state=Task.State.COMPLETE)
    TaskFactory(project=project, state=Task.State.RESOLVED)
    TaskFactory(project=project)
    client.force_login(annotator)
    assert 'data-progress="2/3"' in client.get("/").content.decode()


def test_project_form_sets_adaptive_overlap_and_task_order(client, staff):
    client.force_login(staff)
    body = {
        "name": "Adaptive form",
        "overlap": 2,
        "overlap_max": 4,
        "task_order": "random",
        "gold_fraction": 0,
        "lease_seconds": 600,
        "agreement_threshold": 0.5,
        "status": "active",
        "questions_json": json.dumps([{"name": "better", "type": "preference"}]),
    }
    assert client.post(reverse("projects:project-create"), body).status_code == 302
    project = Project.objects.get(name="Adaptive form")
    assert (project.overlap_max, project.task_order) == (4, "random")
    bad = client.post(reverse("projects:project-create"), {**body, "name": "Low", "overlap_max": 1})
    assert bad.status_code == 200
    assert "overlap_max must be between overlap (2) and 50" in bad.content.decode(), bad.content
    assert not Project.objects.filter(name="Low").exists()
