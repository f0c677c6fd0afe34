import json

import pytest
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
        reverse("projects:member-list", args=[project.pk]), {"username": "ghost", "role": "lead"}
    )
    assert "no user named" in missing.content.decode()
