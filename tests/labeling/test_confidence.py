"""stop_confidence: a task completes once its consensus is likely enough, each answer
weighed by its annotator's estimated accuracy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agreement.services import agreement_snapshot_create
from labeling.services import annotation_submit
from projects.models import Membership, Role, Task
from projects.questions.confidence import consensus_confidence
from tests.factories import MembershipFactory, ProjectFactory, TaskFactory, UserFactory

TOPIC = [{"name": "topic", "type": "label", "options": ["writing", "coding", "math", "other"]}]


def test_two_annotators_of_unknown_accuracy_are_trusted_when_they_agree():
    assert consensus_confidence(["math", "math"], [None, None], 4) > 0.9
    assert consensus_confidence(["math", "code"], [None, None], 4) < 0.5


def test_a_trusted_annotator_outweighs_a_careless_one():
    assert consensus_confidence(["math", "code"], [0.95, 0.3], 4) > 0.9
    # Two answers no better than chance say nothing, even when they are the same.
    assert consensus_confidence(["math", "math"], [0.25, 0.2], 4) < 0.5
    # Nobody is certain: a perfect record still leaves room for doubt.
    assert consensus_confidence(["math", "code"], [1.0, 1.0], 4) == pytest.approx(0.5, abs=0.01)


def _team(project, accuracies):
    people = []
    for i, accuracy in enumerate(accuracies):
        user = UserFactory(username=f"conf{project.pk}-{i}")
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        Membership.objects.filter(project=project, user=user).update(accuracy=accuracy)
        people.append(user)
    return people


@pytest.fixture
def confident(db):
    return ProjectFactory(questions=TOPIC, overlap=2, overlap_max=4, stop_confidence=0.9)


@pytest.mark.django_db
def test_a_trusted_answer_completes_a_task_that_a_careless_one_contradicts(confident):
    task = TaskFactory(project=confident)
    strong, careless = _team(confident, [0.96, 0.3])
    annotation_submit(task=task, annotator=strong, values={"topic": "math"})
    annotation_submit(task=task, annotator=careless, values={"topic": "coding"})
    task.refresh_from_db()
    assert (task.state, task.annotation_count, task.target_overlap) == ("complete", 2, None)


@pytest.mark.django_db
def test_agreeing_answers_of_careless_annotators_ask_for_more(confident):
    task = TaskFactory(project=confident)
    a, b, c = _team(confident, [0.3, 0.3, 0.9])
    annotation_submit(task=task, annotator=a, values={"topic": "math"})
    annotation_submit(task=task, annotator=b, values={"topic": "math"})
    task.refresh_from_db()
    assert (task.state, task.target_overlap) == ("open", 3)
    annotation_submit(task=task, annotator=c, values={"topic": "math"})
    task.refresh_from_db()
    assert task.state == "complete"


@pytest.mark.django_db
def test_at_overlap_max_a_question_without_a_majority_is_disputed(confident):
    task = TaskFactory(project=confident)
    people = _team(confident, [0.6, 0.6, 0.6, 0.6])
    for user, topic in zip(people, ["math", "coding", "writing", "other"], strict=True):
        annotation_submit(task=task, annotator=user, values={"topic": topic})
    task.refresh_from_db()
    assert (task.state, task.annotation_count, task.disputed_questions) == (
        "disputed",
        4,
        ["topic"],
    )


@pytest.mark.django_db
def test_the_snapshot_estimates_accuracies_and_keeps_a_confident_completion(confident, client):
    people = _team(confident, [None, None, None])
    right = {"topic": "math"}
    # Two annotators always agree; the third always says something else.
    for n in range(12):
        task = TaskFactory(project=confident, data={"instruction": f"Task {n}"})
        annotation_submit(task=task, annotator=people[0], values=right)
        annotation_submit(task=task, annotator=people[1], values=right)
    contested = TaskFactory(project=confident, data={"instruction": "Contested"})
    Membership.objects.filter(project=confident, user=people[0]).update(accuracy=0.97)
    Membership.objects.filter(project=confident, user=people[2]).update(accuracy=0.25)
    annotation_submit(task=contested, annotator=people[0], values=right)
    annotation_submit(task=contested, annotator=people[2], values={"topic": "coding"})
    contested.refresh_from_db()
    assert contested.state == "complete"

    agreement_snapshot_create(project_id=confident.pk, bootstrap=0)
    estimated = dict(
        Membership.objects.filter(project=confident).values_list("user_id", "accuracy")
    )
    assert estimated[people[0].pk] > 0.8
    assert estimated[people[1].pk] > 0.8
    # The snapshot's agreement rule would call the two answers a dispute; the
    # submit's decision stands.
    assert Task.objects.get(pk=contested.pk).state == "complete"
    # The lead reads the estimates on the dashboard.
    lead = UserFactory(username=f"lead{confident.pk}")
    MembershipFactory(project=confident, user=lead, role=Role.LEAD)
    client.force_login(lead)
    html = client.get(reverse("agreement:dashboard", args=[confident.pk])).content.decode()
    row = html[html.index(f'data-annotator="{people[0].username}"') :]
    row = row[: row.index("</tr>")]
    assert f"{round(estimated[people[0].pk] * 100)}%" in row


@pytest.mark.django_db
def test_the_api_sets_stop_confidence_and_names_a_bad_one(api, staff):
    client = api(staff)
    made = client.post(
        "/api/v1/projects/",
        {"name": "Confident", "questions": TOPIC, "overlap": 2, "overlap_max": 4,
         "stop_confidence": 0.85},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    assert made.json()["stop_confidence"] == 0.85
    bad = client.patch(
        f"/api/v1/projects/{made.json()['id']}/", {"stop_confidence": 1.5}, format="json"
    )
    assert bad.status_code == 400
    assert "stop_confidence must be above 0.5" in str(bad.json())
