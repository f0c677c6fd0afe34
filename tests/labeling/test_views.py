"""The labeling page as the server renders it."""

from __future__ import annotations

import uuid

import pytest

from labeling.models import Assignment
from projects.models import Annotation
from tests.factories import ProjectFactory, TaskFactory

ANSWER_POST = {"q-better": "B", "q-quality": "4", "q-topic": "coding"}


@pytest.fixture
def lab(client, annotator):
    client.force_login(annotator)
    return client


@pytest.mark.django_db
def test_page_shows_task_and_widgets(lab, project):
    TaskFactory(
        project=project,
        data={"instruction": "Say **hi**", "responses": ["one <b>x</b>", "two"]},
    )
    page = lab.get(f"/projects/{project.pk}/label/").content.decode()
    assert "<strong>hi</strong>" in page
    assert "one &lt;b&gt;x&lt;/b&gt;" in page
    assert 'name="q-better"' in page
    assert "side-by-side" in page
    assert "Unusable" in page  # rating labels


@pytest.mark.django_db
def test_htmx_submit_stores_and_swaps_in_the_next_task(lab, project, annotator):
    first, second = TaskFactory.create_batch(2, project=project)
    lab.get(f"/projects/{project.pk}/label/")
    client_id = str(uuid.uuid4())
    url = f"/projects/{project.pk}/label/tasks/{first.pk}/submit/"
    body = {**ANSWER_POST, "client_id": client_id, "lead_time_s": "7.5"}
    response = lab.post(url, body, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="workspace"')
    assert f'data-task="{second.pk}"' in html
    assert "Saved." in html
    annotation = Annotation.objects.get()
    assert annotation.values == {"better": "B", "quality": 4, "topic": "coding"}
    assert annotation.lead_time_s == 7.5
    lab.post(url, body, HTTP_HX_REQUEST="true")
    assert Annotation.objects.count() == 1
    assert Assignment.objects.get(task=first).state == "submitted"


@pytest.mark.django_db
def test_invalid_submit_shows_errors_on_the_same_task(lab, project):
    task = TaskFactory(project=project)
    url = f"/projects/{project.pk}/label/tasks/{task.pk}/submit/"
    html = lab.post(url, {"q-better": "A"}, HTTP_HX_REQUEST="true").content.decode()
    assert "quality is required" in html
    assert f'data-task="{task.pk}"' in html
    assert not Annotation.objects.exists()


@pytest.mark.django_db
def test_a_project_without_tasks_says_so(lab, project):
    html = lab.get(f"/projects/{project.pk}/label/").content.decode()
    assert "No tasks yet" in html
    assert "Nothing left to label" not in html


@pytest.mark.django_db
def test_skip_needs_a_reason(lab, project, annotator):
    task = TaskFactory(project=project)
    lab.get(f"/projects/{project.pk}/label/")
    lease = Assignment.objects.get(task=task, annotator=annotator)
    url = f"/projects/{project.pk}/label/assignments/{lease.pk}/skip/"
    assert "say why" in lab.post(url, {"reason": ""}, HTTP_HX_REQUEST="true").content.decode()
    html = lab.post(url, {"reason": "off topic"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Nothing left to label" in html
    lease.refresh_from_db()
    assert lease.state == "skipped"
    assert lease.skip_reason == "off topic"


@pytest.mark.django_db
def test_my_answers_and_revise_keep_history(lab, project):
    task = TaskFactory(project=project)
    lab.post(
        f"/projects/{project.pk}/label/tasks/{task.pk}/submit/",
        ANSWER_POST,
        HTTP_HX_REQUEST="true",
    )
    annotation = Annotation.objects.get()
    assert task.external_id in lab.get(f"/projects/{project.pk}/my-answers/").content.decode()
    url = f"/projects/{project.pk}/my-answers/{annotation.pk}/"
    assert lab.get(url).status_code == 200
    bad = lab.post(url, {**ANSWER_POST, "q-quality": "12"})
    assert bad.status_code == 400
    response = lab.post(url, {**ANSWER_POST, "q-better": "tie"})
    assert response.status_code == 302
    annotation.refresh_from_db()
    assert annotation.values["better"] == "tie"
    assert [r.values["better"] for r in annotation.revisions.all()] == ["B"]


@pytest.mark.django_db
def test_page_roles(client, project, reviewer, outsider):
    other = ProjectFactory()
    client.force_login(outsider)
    assert client.get(f"/projects/{project.pk}/label/").status_code == 404
    client.force_login(reviewer)
    assert client.get(f"/projects/{project.pk}/label/").status_code == 403
    assert client.get(f"/projects/{other.pk}/my-answers/").status_code == 404


@pytest.mark.django_db
def test_conversation_and_text_prefill(lab, project):
    project.questions = [
        {"name": "reply", "type": "text", "title": "Next reply"},
        {"name": "fixed", "type": "text", "prefill": "reference", "required": False},
    ]
    project.save()
    TaskFactory(
        project=project,
        data={
            "messages": [
                {"role": "user", "content": "Hello <script>x()</script>"},
                {"role": "assistant", "content": "Hi!"},
                {"role": "user", "content": "Tell me a joke"},
            ],
            "reference": "Original text",
        },
    )
    html = lab.get(f"/projects/{project.pk}/label/").content.decode()
    assert html.count('class="turn turn-') == 3
    assert "&lt;script&gt;" in html
    assert "<script>x()" not in html
    assert "Write the next assistant turn, or correct an earlier one" in html
    assert ">Original text</textarea>" in html


def test_annotator_sees_review_feedback_on_my_answers(lab, project, annotator, reviewer):
    from django.utils import timezone

    annotation = Annotation.objects.create(
        project=project,
        task=TaskFactory(project=project),
        annotator=annotator,
        values={"better": "A", "quality": 2, "topic": "other"},
        review_state=Annotation.ReviewState.REJECTED,
        review_comment="Response B answers the question; A does not.",
        reviewed_by=reviewer,
        reviewed_at=timezone.now(),
    )
    page = lab.get(f"/projects/{project.pk}/my-answers/").content.decode()
    assert "Rejected" in page
    assert "Response B answers the question; A does not." in page
    assert f'data-feedback="{annotation.pk}"' in page
