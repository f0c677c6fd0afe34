"""Leasing and submitting under real concurrency on PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from labeling.models import Assignment
from labeling.services import (
    AnswerConflict,
    ImportRowsError,
    annotation_revise,
    annotation_submit,
    annotations_import,
    assignment_lease_next,
    assignment_skip,
)
from projects.models import Annotation, Role, Task
from tests.factories import MembershipFactory, ProjectFactory, TaskFactory, UserFactory

ANSWER = {"better": "A", "quality": 4, "topic": "writing"}


def _annotators(project, n):
    users = [UserFactory(username=f"ann{i}") for i in range(n)]
    for user in users:
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    return users


def run_threads(users, work):
    """Run ``work(user)`` in one thread per user, all released at once; fail on any error."""
    barrier = threading.Barrier(len(users))
    failures: list[BaseException] = []

    def run(user):
        try:
            barrier.wait()
            work(user)
        except BaseException as exc:  # reported after join
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not failures, failures


@pytest.mark.django_db(transaction=True)
def test_twelve_concurrent_annotators_drain_the_pool_exactly():
    project = ProjectFactory(overlap=3, gold_fraction=0.2)
    tasks = TaskFactory.create_batch(25, project=project)
    for task in tasks[:5]:
        Task.objects.filter(pk=task.pk).update(is_gold=True, gold=ANSWER)
    users = _annotators(project, 12)

    def work(user):
        while True:
            assignment = assignment_lease_next(project=project, annotator=user)
            if assignment is None:
                return
            annotation_submit(
                task=assignment.task, annotator=user, values=ANSWER, client_id=uuid.uuid4()
            )

    run_threads(users, work)

    per_task = Counter(Annotation.objects.values_list("task_id", flat=True))
    assert per_task == {t.pk: 3 for t in tasks}
    pairs = list(Annotation.objects.values_list("task_id", "annotator_id"))
    assert len(pairs) == len(set(pairs))
    assert set(Task.objects.values_list("annotation_count", "state")) == {(3, "complete")}
    assert not Assignment.objects.filter(state="leased").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_leases_never_exceed_overlap():
    project = ProjectFactory(overlap=2)
    tasks = TaskFactory.create_batch(3, project=project)
    users = _annotators(project, 12)
    run_threads(users, lambda user: assignment_lease_next(project=project, annotator=user))

    leases = Counter(Assignment.objects.filter(state="leased").values_list("task_id", flat=True))
    assert leases == {t.pk: 2 for t in tasks}
    # Six got a task, six were told nothing is left.
    assert Assignment.objects.count() == 6


@pytest.mark.django_db
def test_own_lease_comes_back_and_spread_gives_fewest_answers_first(project, annotator):
    project.task_order = "spread"
    project.save()
    first, second = TaskFactory.create_batch(2, project=project)
    other = _annotators(project, 1)[0]
    annotation_submit(task=first, annotator=other, values=ANSWER)
    lease = assignment_lease_next(project=project, annotator=annotator)
    assert lease.task == second
    assert assignment_lease_next(project=project, annotator=annotator).pk == lease.pk


@pytest.mark.django_db
def test_new_projects_complete_started_tasks_first(project, annotator):
    assert project.task_order == "complete_first"
    tasks = TaskFactory.create_batch(4, project=project)
    other, third, fourth = _annotators(project, 3)
    annotation_submit(task=tasks[1], annotator=other, values=ANSWER)
    # The task another annotator started comes before every untouched one.
    assert assignment_lease_next(project=project, annotator=annotator).task == tasks[1]
    # Once it has no room left (two answers plus a lease under overlap 3), the next.
    annotation_submit(task=tasks[1], annotator=third, values=ANSWER)
    lease = assignment_lease_next(project=project, annotator=fourth)
    assert lease.task != tasks[1]


@pytest.mark.django_db
def test_random_order_hands_out_every_task_once_per_annotator(project):
    project.task_order = "random"
    project.overlap = 1
    project.save()
    tasks = TaskFactory.create_batch(30, project=project)
    annotator = _annotators(project, 1)[0]
    order = []
    while (lease := assignment_lease_next(project=project, annotator=annotator)) is not None:
        order.append(lease.task.pk)
        annotation_submit(task=lease.task, annotator=annotator, values=ANSWER)
    assert sorted(order) == sorted(t.pk for t in tasks)
    assert order != sorted(order)  # 1 chance in 30! to fail by luck


@pytest.mark.django_db
def test_expired_lease_returns_to_the_pool(project):
    project.overlap = 1
    project.save()
    task = TaskFactory(project=project)
    alice, bob = _annotators(project, 2)
    lease = assignment_lease_next(project=project, annotator=alice)
    assert lease.task == task
    assert assignment_lease_next(project=project, annotator=bob) is None
    with pytest.raises(AnswerConflict):
        annotation_submit(task=task, annotator=bob, values=ANSWER)

    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert assignment_lease_next(project=project, annotator=bob).task == task
    # Alice's lease is gone; her late answer is refused because Bob now holds the slot.
    with pytest.raises(AnswerConflict):
        annotation_submit(task=task, annotator=alice, values=ANSWER)


@pytest.mark.django_db
def test_submit_is_idempotent_by_client_id(project, annotator):
    task = TaskFactory(project=project)
    client_id = uuid.uuid4()
    first, created = annotation_submit(
        task=task, annotator=annotator, values=ANSWER, client_id=client_id, lead_time_s=12.5
    )
    again, created_again = annotation_submit(
        task=task, annotator=annotator, values=ANSWER, client_id=client_id
    )
    assert created
    assert not created_again
    assert again.pk == first.pk
    task.refresh_from_db()
    assert task.annotation_count == 1
    assert first.lead_time_s == 12.5


@pytest.mark.django_db
def test_submit_without_lease_respects_overlap_and_one_answer_each(project):
    project.overlap = 2
    project.save()
    task = TaskFactory(project=project)
    a, b, c = _annotators(project, 3)
    annotation_submit(task=task, annotator=a, values=ANSWER)
    with pytest.raises(AnswerConflict, match="already answered"):
        annotation_submit(task=task, annotator=a, values=ANSWER)
    annotation_submit(task=task, annotator=b, values=ANSWER)
    with pytest.raises(AnswerConflict, match="all the answers"):
        annotation_submit(task=task, annotator=c, values=ANSWER)
    task.refresh_from_db()
    assert task.annotation_count == 2
    assert task.state == "complete"


@pytest.mark.django_db
def test_invalid_answers_name_the_field_and_store_nothing(project, annotator):
    task = TaskFactory(project=project)
    with pytest.raises(ValidationError) as info:
        annotation_submit(task=task, annotator=annotator, values={**ANSWER, "quality": 9})
    assert "values.quality" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        annotation_submit(task=task, annotator=annotator, values=ANSWER, lead_time_s=-1)
    assert "lead_time_s" in info.value.message_dict
    assert not Annotation.objects.exists()


@pytest.mark.django_db
def test_revise_keeps_the_earlier_version(project, annotator):
    task = TaskFactory(project=project)
    annotation, _ = annotation_submit(task=task, annotator=annotator, values=ANSWER)
    revised = annotation_revise(annotation=annotation, values={**ANSWER, "better": "B"})
    assert revised.values["better"] == "B"
    assert [r.values["better"] for r in revised.revisions.all()] == ["A"]


@pytest.mark.django_db
def test_skip_needs_a_reason_and_the_task_is_not_offered_again(project, annotator):
    TaskFactory(project=project)
    lease = assignment_lease_next(project=project, annotator=annotator)
    with pytest.raises(ValidationError):
        assignment_skip(assignment=lease, reason="  ")
    assignment_skip(assignment=lease, reason="Needs medical knowledge")
    assert assignment_lease_next(project=project, annotator=annotator) is None


@pytest.mark.django_db
def test_import_is_all_or_nothing_and_idempotent(project, annotator, outsider):
    task = TaskFactory(project=project, external_id="t1")
    rows = [{"external_id": "t1", "annotator": "annotator", "values": ANSWER}]
    with pytest.raises(ImportRowsError) as info:
        annotations_import(
            project=project,
            rows=[*rows, {"external_id": "nope", "annotator": "ghost", "values": ANSWER}],
        )
    assert {(e["row"], e["field"]) for e in info.value.rows} == {
        (1, "external_id"),
        (1, "annotator"),
    }
    assert not Annotation.objects.exists()

    assert annotations_import(project=project, rows=rows)["created"] == 1
    assert annotations_import(project=project, rows=rows) == {
        "created": 0,
        "unchanged": 1,
        "errors": [],
    }
    task.refresh_from_db()
    assert task.annotation_count == 1
    with pytest.raises(ImportRowsError) as info:
        annotations_import(
            project=project, rows=[{"external_id": "t1", "annotator": "outsider", "values": ANSWER}]
        )
    assert "not a member" in info.value.rows[0]["message"]


@pytest.mark.django_db(transaction=True)
def test_submit_schedules_the_agreement_refresh_after_commit():
    from django.core.cache import cache

    from agreement.scheduling import pending_key

    project = ProjectFactory()
    task = TaskFactory(project=project)
    (user,) = _annotators(project, 1)
    cache.delete(pending_key(project.pk))
    annotation_submit(task=task, annotator=user, values=ANSWER)
    assert cache.get(pending_key(project.pk))
