"""The snapshot's dispute rule is the one a submit applies, question by question."""

from __future__ import annotations

import random

import pytest

from agreement.services import agreement_snapshot_create
from projects import questions
from projects.models import Task
from tests.factories import AnnotationFactory, ProjectFactory, TaskFactory, UserFactory

QUESTIONS = [
    {"name": "better", "type": "preference", "strength": True},
    {"name": "score", "type": "rating", "min": 1, "max": 5},
    {"name": "topic", "type": "label", "options": ["a", "b", "c"]},
    {"name": "tags", "type": "multilabel", "options": ["x", "y"], "required": False},
    {"name": "tags_loose", "type": "multilabel", "options": ["x", "y"], "agree": 0.5},
    {"name": "order", "type": "ranking"},
    {"name": "fix", "type": "text"},
    {"name": "side", "type": "preference", "agree": 0.5, "strength": True},
]
TEXTS = ["the cat sat on the mat", "the cat sat on a mat", "a dog ran", "the cat sat on the mat"]


def _answer(rng: random.Random) -> dict:
    def pref():
        choice = rng.choice(["A", "B", "tie"])
        return {"choice": choice, "strength": 0 if choice == "tie" else rng.choice([1, 2])}

    return {
        "better": pref(),
        "score": rng.choice([1, 2, 3, 5]),
        "topic": rng.choice(["a", "a", "b", "c"]),
        "tags": rng.choice([[], ["x"], ["x", "y"]]),
        "tags_loose": rng.choice([["x"], ["x", "y"], ["y"]]),
        "order": rng.choice([[0, 1], [1, 0]]),
        "fix": rng.choice(TEXTS),
        "side": pref(),
    }


@pytest.mark.django_db
def test_snapshot_disputes_exactly_the_questions_a_submit_would():
    rng = random.Random(7)
    project = ProjectFactory(questions=QUESTIONS, overlap=2)
    people = [UserFactory(username=f"d{i}") for i in range(4)]
    expected = {}
    for n in range(60):
        task = TaskFactory(
            project=project,
            state=Task.State.COMPLETE,
            data={"instruction": f"q{n}", "responses": ["r1", "r2"]},
        )
        answers = [_answer(rng) for _ in range(rng.choice([2, 3, 4]))]
        for person, values in zip(people, answers, strict=False):
            AnnotationFactory(task=task, annotator=person, values=values)
        expected[task.pk] = questions.disputed(QUESTIONS, answers) or None
    # Every question is in dispute somewhere, and some tasks agree throughout.
    named = {name for names in expected.values() if names for name in names}
    assert named == {q["name"] for q in QUESTIONS}
    agreement_snapshot_create(project_id=project.id, bootstrap=0)
    got = dict(Task.objects.filter(project=project).values_list("id", "disputed_questions"))
    assert got == expected
    states = dict(Task.objects.filter(project=project).values_list("id", "state"))
    assert {states[pk] for pk, names in expected.items() if names} == {"disputed"}
    assert {states[pk] for pk, names in expected.items() if not names} == {"complete"}


@pytest.mark.django_db
def test_review_queue_names_the_questions_in_dispute(client, reviewer, project):
    TaskFactory(project=project, state=Task.State.DISPUTED, disputed_questions=["quality"])
    client.force_login(reviewer)
    html = client.get(f"/projects/{project.pk}/review/").content.decode()
    # By the title annotators read, not the question's field name.
    assert 'class="disputed-questions" data-label="In dispute">Rate response A</td>' in html
