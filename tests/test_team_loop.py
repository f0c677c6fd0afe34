"""The loop a team lives, end to end: two annotators one after another, a dispute on one
question, and the training file a trainer downloads right after the last answer."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from projects.models import Membership, Project, Role, Task
from tests.conftest import wait_for
from tests.exports.conftest import build
from tests.factories import ProjectFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

QUESTIONS = [
    {"name": "answer", "type": "text", "title": "Correct response A", "prefill": "responses.0"},
    {"name": "better", "type": "preference", "title": "Which response is better?"},
    {"name": "quality", "type": "rating", "min": 1, "max": 5, "target": "responses.0"},
]


@pytest.fixture
def team(api):
    project = ProjectFactory(
        questions=QUESTIONS, overlap=2, overlap_max=2, task_order=Project.TaskOrder.COMPLETE_FIRST
    )
    if hasattr(project, "shuffle_responses"):  # the order shown does not matter here
        Project.objects.filter(pk=project.pk).update(shuffle_responses=False)
    people = {}
    for name, role in (("lead", Role.LEAD), ("ann1", Role.ANNOTATOR), ("ann2", Role.ANNOTATOR)):
        people[name] = UserFactory(username=name)
        Membership.objects.create(project=project, user=people[name], role=role)
    tasks = [
        TaskFactory(
            project=project,
            external_id=f"t{n}",
            data={"instruction": f"Question {n}?", "responses": [f"draft {n}", f"other {n}"]},
        )
        for n in range(1, 5)
    ]
    return project, people, tasks


def _label(client, project, answers: dict[str, dict]) -> list[str]:
    """Take tasks one after another until none is left; answer each from ``answers``."""
    done = []
    while True:
        response = client.get(f"/api/v1/projects/{project.pk}/next-task/")
        if response.status_code == 204:
            return done
        task = response.json()
        values = answers.get(task["external_id"])
        if values is None:  # the annotator stops here; the lease runs out by itself
            return done
        submit = client.post(
            f"/api/v1/tasks/{task['id']}/annotations/",
            {"values": values, "client_id": str(uuid.uuid4()), "lead_time_s": 12},
            format="json",
        )
        assert submit.status_code in (200, 201), submit.content
        done.append(task["external_id"])


def test_two_annotators_then_the_training_file(celery_worker, api, team):
    project, people, _ = team
    agreed = {"answer": "A corrected answer.", "better": "A", "quality": 4}
    first = {
        "t1": {**agreed, "answer": "Fixed one."},
        "t2": {**agreed, "answer": "Fixed two."},
        "t3": agreed,
    }
    second = {
        "t1": {**agreed, "answer": "Fixed one."},  # the same correction: no tie
        "t2": {**agreed, "answer": "Fixed two."},
        "t3": {**agreed, "better": "B"},  # disagrees on one question only
    }
    assert _label(api(people["ann1"]), project, first) == ["t1", "t2", "t3"]
    # Complete first: the second annotator is offered the three tasks the first one
    # started before the untouched t4.
    assert sorted(_label(api(people["ann2"]), project, second)) == ["t1", "t2", "t3"]
    # The first annotator comes back for one more: t4 keeps a single answer.
    assert _label(api(people["ann1"]), project, {"t4": agreed}) == ["t4"]

    states = dict(Task.objects.filter(project=project).values_list("external_id", "state"))
    assert states == {"t1": "complete", "t2": "complete", "t3": "disputed", "t4": "open"}
    lead = api(people["lead"])
    listed = lead.get(f"/api/v1/projects/{project.pk}/tasks/?state=disputed").json()["results"]
    assert [(t["external_id"], t["disputed_questions"]) for t in listed] == [("t3", ["better"])]

    # Right after the last submit: the export brings consensus up to date first.
    created = lead.post(
        f"/api/v1/projects/{project.pk}/exports/", {"format": "sft"}, format="json"
    )
    assert created.status_code == 202, created.content
    url = f"/api/v1/exports/{created.json()['id']}/"
    export = wait_for(lambda: (e := lead.get(url).json())["state"] == "ready" and e, timeout=60)
    body = b"".join(lead.get(url + "download/").streaming_content)
    lines = [json.loads(line) for line in body.splitlines()]
    answers = {line["messages"][-1]["content"] for line in lines}
    assert answers == {"Fixed one.", "Fixed two."}
    # The disputed task (no resolution yet) and the task with one answer are left out, counted.
    assert export["excluded"].get("incomplete") == 2


def _workspace_task(page) -> int:
    page.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
    return int(page.locator("#workspace").get_attribute("data-task"))


def _label_in_page(page, project, choices: dict[int, str], count: int) -> list[int]:
    """Answer ``count`` tasks by keyboard: keep the prefilled text, a preference, rating 4."""
    page.goto(f"/projects/{project.pk}/label/")
    done = []
    for _ in range(count):
        task_id = _workspace_task(page)
        page.keyboard.press("j")  # from the text question to the preference
        page.keyboard.press(choices.get(task_id, "a"))
        page.keyboard.press("j")
        page.keyboard.press("4")
        page.keyboard.press("Control+Enter")
        page.wait_for_function(
            "old => document.getElementById('workspace')?.dataset.task !== String(old)",
            arg=task_id,
        )
        done.append(task_id)
    return done


def test_two_annotators_in_the_browser_then_the_training_file(page_as, team, settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path
    project, people, tasks = team
    ids = {t.external_id: t.pk for t in tasks}
    first = _label_in_page(page_as(people["ann1"]), project, {}, 3)
    assert first == [ids["t1"], ids["t2"], ids["t3"]]
    second = _label_in_page(page_as(people["ann2"]), project, {ids["t3"]: "b"}, 3)
    assert sorted(second) == sorted(first)

    states = dict(Task.objects.filter(project=project).values_list("external_id", "state"))
    assert states == {"t1": "complete", "t2": "complete", "t3": "disputed", "t4": "open"}
    assert Task.objects.get(pk=ids["t3"]).disputed_questions == ["better"]
    export = build(project, "sft")
    lines = [json.loads(line) for line in Path(export.file_path).read_text().splitlines()]
    # Both kept the prefilled draft: identical corrections, the agreed training text.
    assert sorted(line["messages"][-1]["content"] for line in lines) == ["draft 1", "draft 2"]
    assert export.excluded.get("incomplete") == 2
