"""Adaptive overlap: a task completes when its answers agree, asks for more while they
do not, and is disputed at overlap_max; never more answers than its current target."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter

import pytest

from labeling.models import Assignment
from labeling.services import (
    AnswerConflict,
    annotation_revise,
    annotation_submit,
    annotations_import,
    assignment_lease_next,
)
from projects.models import Annotation, Role, Task
from tests.factories import MembershipFactory, ProjectFactory, TaskFactory, UserFactory
from tests.labeling.test_services import run_threads

ANSWER = {"better": "A", "quality": 4, "topic": "writing"}


def _annotators(project, n, prefix="adapt"):
    users = [UserFactory(username=f"{prefix}{i}") for i in range(n)]
    for user in users:
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    return users


def _answer(**changes):
    return {**ANSWER, **changes}


@pytest.fixture
def adaptive(db):
    return ProjectFactory(overlap=2, overlap_max=4)


@pytest.mark.django_db
def test_agreeing_answers_complete_at_the_minimum(adaptive):
    task = TaskFactory(project=adaptive)
    a, b, c = _annotators(adaptive, 3)
    annotation_submit(task=task, annotator=a, values=ANSWER)
    # Within one step on the rating agrees by default.
    annotation_submit(task=task, annotator=b, values=_answer(quality=5))
    task.refresh_from_db()
    assert (task.state, task.annotation_count, task.target_overlap) == ("complete", 2, None)
    assert task.disputed_questions is None
    with pytest.raises(AnswerConflict, match="all the answers"):
        annotation_submit(task=task, annotator=c, values=ANSWER)


@pytest.mark.django_db
def test_disagreement_grows_the_target_to_overlap_max_then_disputes(adaptive):
    task = TaskFactory(project=adaptive)
    users = _annotators(adaptive, 5)
    choices = ["A", "B", "tie", "A"]
    seen = []
    for user, choice in zip(users, choices, strict=False):
        lease = assignment_lease_next(project=adaptive, annotator=user)
        assert lease.task == task
        annotation_submit(task=task, annotator=user, values=_answer(better=choice))
        task.refresh_from_db()
        seen.append((task.state, task.annotation_count, task.target_overlap))
    assert seen == [
        ("open", 1, None),
        ("open", 2, 3),  # A vs B: one more answer
        ("open", 3, 4),  # A, B, tie: no majority yet
        ("disputed", 4, 4),  # A, B, tie, A: two of four is not a majority
    ]
    assert task.disputed_questions == ["better"]
    assert assignment_lease_next(project=adaptive, annotator=users[4]) is None


@pytest.mark.django_db
def test_a_majority_after_growing_completes(adaptive):
    task = TaskFactory(project=adaptive)
    a, b, c = _annotators(adaptive, 3)
    annotation_submit(task=task, annotator=a, values=_answer(topic="coding"))
    annotation_submit(task=task, annotator=b, values=ANSWER)
    annotation_submit(task=task, annotator=c, values=ANSWER)
    task.refresh_from_db()
    assert (task.state, task.annotation_count, task.target_overlap) == ("complete", 3, 3)


@pytest.mark.django_db
def test_fixed_overlap_disputes_naming_only_the_questions_that_disagree(db):
    project = ProjectFactory(overlap=2)
    task = TaskFactory(project=project)
    a, b = _annotators(project, 2)
    annotation_submit(task=task, annotator=a, values=ANSWER)
    annotation_submit(task=task, annotator=b, values=_answer(quality=2, better="B"))
    task.refresh_from_db()
    assert task.state == "disputed"
    assert task.disputed_questions == ["better", "quality"]


@pytest.mark.django_db
def test_a_question_threshold_is_its_own(db):
    questions = [
        {"name": "score", "type": "rating", "min": 1, "max": 5, "agree": 0},
        {"name": "fix", "type": "text", "agree": 0.5},
    ]
    project = ProjectFactory(overlap=2, questions=questions)
    task = TaskFactory(project=project)
    a, b = _annotators(project, 2)
    annotation_submit(task=task, annotator=a, values={"score": 3, "fix": "the cat sat down"})
    annotation_submit(task=task, annotator=b, values={"score": 4, "fix": "the cat sat"})
    task.refresh_from_db()
    assert task.disputed_questions == ["score"]


@pytest.mark.django_db
def test_a_revision_settles_its_task_again(db):
    project = ProjectFactory(overlap=2)
    task = TaskFactory(project=project)
    a, b = _annotators(project, 2)
    first, _ = annotation_submit(task=task, annotator=a, values=ANSWER)
    annotation_submit(task=task, annotator=b, values=_answer(better="B"))
    task.refresh_from_db()
    assert (task.state, task.disputed_questions) == ("disputed", ["better"])

    # The first annotator comes round to the other's view: nothing is left in dispute.
    annotation_revise(annotation=first, values=_answer(better="B"))
    task.refresh_from_db()
    assert (task.state, task.disputed_questions) == ("complete", None)

    # And back again: the task is disputed on that question once more.
    first.refresh_from_db()
    annotation_revise(annotation=first, values=ANSWER)
    task.refresh_from_db()
    assert (task.state, task.disputed_questions) == ("disputed", ["better"])


@pytest.mark.django_db
def test_a_revision_that_breaks_agreement_asks_for_one_more_answer(adaptive):
    task = TaskFactory(project=adaptive)
    a, b, c = _annotators(adaptive, 3)
    first, _ = annotation_submit(task=task, annotator=a, values=ANSWER)
    annotation_submit(task=task, annotator=b, values=ANSWER)
    task.refresh_from_db()
    assert task.state == "complete"

    annotation_revise(annotation=first, values=_answer(topic="coding"))
    task.refresh_from_db()
    assert (task.state, task.target_overlap) == ("open", 3)
    lease = assignment_lease_next(project=adaptive, annotator=c)
    assert lease is not None
    assert lease.task_id == task.pk


@pytest.mark.django_db
def test_repeated_submit_of_the_deciding_answer_changes_nothing(adaptive):
    task = TaskFactory(project=adaptive)
    a, b = _annotators(adaptive, 2)
    annotation_submit(task=task, annotator=a, values=ANSWER)
    client_id = uuid.uuid4()
    first, _ = annotation_submit(
        task=task, annotator=b, values=_answer(better="B"), client_id=client_id
    )
    again, created = annotation_submit(
        task=task, annotator=b, values=_answer(better="B"), client_id=client_id
    )
    assert (again.pk, created) == (first.pk, False)
    task.refresh_from_db()
    assert (task.state, task.annotation_count, task.target_overlap) == ("open", 2, 3)


@pytest.mark.django_db
def test_imported_answers_are_settled_by_the_same_rule(adaptive):
    agreed, split = TaskFactory.create_batch(2, project=adaptive)
    a, b = _annotators(adaptive, 2)
    rows = [
        {"external_id": agreed.external_id, "annotator": a.username, "values": ANSWER},
        {"external_id": agreed.external_id, "annotator": b.username, "values": ANSWER},
        {"external_id": split.external_id, "annotator": a.username, "values": ANSWER},
        {"external_id": split.external_id, "annotator": b.username, "values": _answer(better="B")},
    ]
    annotations_import(project=adaptive, rows=rows)
    agreed.refresh_from_db()
    split.refresh_from_db()
    assert agreed.state == "complete"
    assert (split.state, split.target_overlap) == ("open", 3)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("order", "confidence"),
    [("complete_first", None), ("spread", None), ("random", None), ("complete_first", 0.9)],
)
def test_concurrent_annotators_never_exceed_a_task_target(order, confidence):
    project = ProjectFactory(
        overlap=2, overlap_max=4, task_order=order, gold_fraction=0.1, stop_confidence=confidence
    )
    tasks = TaskFactory.create_batch(20, project=project)
    Task.objects.filter(pk__in=[t.pk for t in tasks[:3]]).update(is_gold=True, gold=ANSWER)
    users = _annotators(project, 10)
    if confidence is not None:
        # Trusted and careless annotators: some tasks complete although they disagree.
        for n, user in enumerate(users):
            project.memberships.filter(user=user).update(accuracy=0.3 + 0.07 * n)
    # Annotators who often disagree, so that targets grow while others lease.
    choices = ["A", "A", "B", "tie"]

    def work(user):
        rng = random.Random(user.pk)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assignment = assignment_lease_next(project=project, annotator=user)
            if assignment is None:
                # A target may still grow after another annotator's answer: come
                # back until no task is open.
                if not Task.objects.filter(project=project, state="open").exists():
                    return
                time.sleep(0.01)
                continue
            values = _answer(better=rng.choice(choices))
            client_id = uuid.uuid4()
            annotation_submit(
                task=assignment.task, annotator=user, values=values, client_id=client_id
            )
            # A retry of the same answer (a lost response) must not count twice.
            if rng.random() < 0.3:
                _, created = annotation_submit(
                    task=assignment.task, annotator=user, values=values, client_id=client_id
                )
                assert not created

    run_threads(users, work)

    per_task = Counter(Annotation.objects.values_list("task_id", flat=True))
    states = Counter()
    for task in Task.objects.filter(project=project):
        target = task.target_overlap or project.overlap
        assert per_task[task.pk] == task.annotation_count
        assert task.annotation_count == target <= 4, task
        states[task.state] += 1
        if task.state == "disputed":
            assert task.annotation_count == 4
            assert task.disputed_questions == ["better"]
        else:
            assert task.state == "complete"
    pairs = list(Annotation.objects.values_list("task_id", "annotator_id"))
    assert len(pairs) == len(set(pairs))
    assert not Assignment.objects.filter(state="leased").exists()
    assert sum(states.values()) == 20
    assert any(t.target_overlap for t in Task.objects.filter(project=project))


@pytest.mark.django_db(transaction=True)
def test_concurrent_leases_respect_a_grown_target():
    project = ProjectFactory(overlap=2, overlap_max=4)
    task = TaskFactory(project=project)
    a, b = _annotators(project, 2, prefix="first")
    annotation_submit(task=task, annotator=a, values=ANSWER)
    annotation_submit(task=task, annotator=b, values=_answer(better="B"))
    users = _annotators(project, 8)
    run_threads(users, lambda user: assignment_lease_next(project=project, annotator=user))
    # The target grew to 3: exactly one more lease, whoever asked at the same moment.
    assert Assignment.objects.filter(state="leased").count() == 1
