"""The team page: each annotator's progress, as a lead reads it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from labeling.models import Assignment
from labeling.selectors import team_activity
from projects.models import Annotation, Role
from tests.factories import AnnotationFactory, MembershipFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(project):
    now = timezone.now()
    ana, bo, idle = (UserFactory(username=n) for n in ("ana", "bo", "idle"))
    for user in (ana, bo, idle):
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    tasks = TaskFactory.create_batch(5, project=project)
    # ana: 3 answers (10 s, 20 s, 60 s), one of them 30 days old; one skip.
    for task, seconds in zip(tasks[:3], (10, 20, 60), strict=True):
        AnnotationFactory(task=task, annotator=ana, lead_time_s=seconds)
    Annotation.objects.filter(annotator=ana, lead_time_s=60).update(
        created_at=now - timedelta(days=30)
    )
    Assignment.objects.create(
        project=project, task=tasks[3], annotator=ana, state=Assignment.State.SKIPPED,
        leased_at=now, expires_at=now + timedelta(minutes=15),
    )  # fmt: skip
    # bo: one answer, one live lease and one expired.
    AnnotationFactory(task=tasks[0], annotator=bo, lead_time_s=5)
    for task, expires in ((tasks[4], now + timedelta(minutes=10)), (tasks[3], now)):
        Assignment.objects.create(
            project=project, task=task, annotator=bo, leased_at=now, expires_at=expires
        )
    return now


def test_team_activity_counts_per_annotator(project, team):
    rows = {r["username"]: r for r in team_activity(project=project, now=team)}
    assert rows["ana"]["total"] == 3
    assert rows["ana"]["today"] == 2
    assert rows["ana"]["week"] == 2
    assert rows["ana"]["median_s"] == 20
    assert rows["ana"]["skips"] == 1
    assert rows["ana"]["active_leases"] == 0
    assert rows["bo"]["total"] == 1
    assert rows["bo"]["active_leases"] == 1
    assert rows["idle"] == {
        **rows["idle"], "total": 0, "today": 0, "skips": 0, "active_leases": 0, "median_s": None
    }
    assert list(rows)[:2] == ["ana", "bo"]  # most answers first


def test_team_page_for_leads_and_reviewers_only(
    client, project, lead, reviewer, annotator, team, django_assert_num_queries
):
    url = reverse("agreement:team", args=[project.pk])
    client.force_login(lead)
    client.get(url)  # warm the session
    # Session, user, project with role, snapshot, answers, leases, members, task counts.
    with django_assert_num_queries(8):
        page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-annotator="ana"' in html
    assert "20 s" in html
    client.force_login(reviewer)
    assert client.get(url).status_code == 200
    client.force_login(annotator)
    assert client.get(url).status_code == 403
