"""Skip reasons from the project's presets, and taking back the last skip or submit."""

from __future__ import annotations

import pytest

from labeling.models import Assignment
from projects.models import Annotation, Membership, Role
from tests.factories import TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def lab(client, annotator):
    client.force_login(annotator)
    return client


def _lease(lab, project, annotator, task) -> Assignment:
    lab.get(f"/projects/{project.pk}/label/")
    return Assignment.objects.get(task=task, annotator=annotator)


def test_skip_dialog_offers_the_presets_and_own_words_win(lab, project, annotator):
    project.skip_reasons = ["Not enough context to judge", "Harmful content"]
    project.save(update_fields=["skip_reasons"])
    first, second = TaskFactory(project=project), TaskFactory(project=project)
    page = lab.get(f"/projects/{project.pk}/label/").content.decode()
    assert 'name="preset" value="Not enough context to judge"' in page
    lease = Assignment.objects.get(annotator=annotator, state="leased")
    url = f"/projects/{project.pk}/label/assignments/{lease.pk}/skip/"
    lab.post(url, {"preset": "Harmful content", "reason": ""}, **HX)
    lease.refresh_from_db()
    assert lease.skip_reason == "Harmful content"
    other = Assignment.objects.get(annotator=annotator, state="leased")
    assert {lease.task_id, other.task_id} == {first.pk, second.pk}
    url = f"/projects/{project.pk}/label/assignments/{other.pk}/skip/"
    lab.post(url, {"preset": "Harmful content", "reason": "my own words"}, **HX)
    other.refresh_from_db()
    assert other.skip_reason == "my own words"


def test_undo_a_skip_brings_the_task_back(lab, project, annotator):
    task, later = TaskFactory(project=project), TaskFactory(project=project)
    lease = _lease(lab, project, annotator, task)
    page = lab.post(
        f"/projects/{project.pk}/label/assignments/{lease.pk}/skip/", {"reason": "unsure"}, **HX
    ).content.decode()
    undo = f"/projects/{project.pk}/label/assignments/{lease.pk}/unskip/"
    assert f'hx-post="{undo}"' in page
    assert Assignment.objects.get(task=later, annotator=annotator).state == "leased"

    page = lab.post(undo, **HX).content.decode()
    assert "Skip taken back." in page
    assert f'data-task="{task.pk}"' in page
    lease.refresh_from_db()
    assert lease.state == "leased"
    assert lease.skip_reason == ""
    # The task given after the skip goes back to the pool.
    assert Assignment.objects.get(task=later, annotator=annotator).state == "released"
    assert lab.post(undo, **HX).content.decode().count("Not taken back") == 1


def test_undo_a_skip_is_refused_once_the_task_is_full(lab, project, annotator):
    project.overlap = 1
    project.save(update_fields=["overlap"])
    task = TaskFactory(project=project)
    lease = _lease(lab, project, annotator, task)
    lab.post(f"/projects/{project.pk}/label/assignments/{lease.pk}/skip/", {"reason": "x"}, **HX)
    # Meanwhile another annotator answers it, which fills it.
    other = UserFactory(username="other")
    Membership.objects.create(project=project, user=other, role=Role.ANNOTATOR)
    lab.force_login(other)
    lab.post(
        f"/projects/{project.pk}/label/tasks/{task.pk}/submit/",
        {"q-better": "A", "q-quality": "3", "q-topic": "coding"},
    )
    assert Annotation.objects.filter(task=task).count() == 1
    lab.force_login(annotator)
    page = lab.post(f"/projects/{project.pk}/label/assignments/{lease.pk}/unskip/", **HX)
    assert "Not taken back" in page.content.decode()
    lease.refresh_from_db()
    assert lease.state == "skipped"


def test_undo_a_submit_opens_the_answer_to_change(lab, project, annotator):
    task = TaskFactory(project=project)
    _lease(lab, project, annotator, task)
    page = lab.post(
        f"/projects/{project.pk}/label/tasks/{task.pk}/submit/",
        {"q-better": "A", "q-quality": "3", "q-topic": "coding"},
        **HX,
    ).content.decode()
    answer = Annotation.objects.get(task=task, annotator=annotator)
    assert f'href="/projects/{project.pk}/my-answers/{answer.pk}/" data-undo' in page
