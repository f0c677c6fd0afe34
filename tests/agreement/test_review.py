"""The dashboard and review pages, as a lead, reviewer and annotator use them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agreement.models import Resolution
from agreement.services import agreement_snapshot_create
from labeling.selectors import feedback_for
from projects.models import Annotation, Task
from tests.factories import AnnotationFactory, TaskFactory, UserFactory


@pytest.fixture
def disputed(project):
    people = [UserFactory(username=f"ann{i}") for i in range(3)]
    answers = [("A", 5, "writing"), ("B", 1, "coding"), ("tie", 3, "other")]
    task = TaskFactory(project=project, external_id="hard-1", state=Task.State.COMPLETE)
    easy = TaskFactory(project=project, external_id="easy-1", state=Task.State.COMPLETE)
    for person, (better, quality, topic) in zip(people, answers, strict=True):
        AnnotationFactory(
            task=task,
            annotator=person,
            values={"better": better, "quality": quality, "topic": topic},
        )
        AnnotationFactory(
            task=easy, annotator=person, values={"better": "A", "quality": 4, "topic": "writing"}
        )
    project.agreement_threshold = 0.5
    project.save()
    agreement_snapshot_create(project_id=project.id, bootstrap=200)
    task.refresh_from_db()
    assert task.state == Task.State.DISPUTED
    return task, people


def test_dashboard_shows_alpha_bands_and_annotators(client, lead, disputed, project):
    client.force_login(lead)
    page = client.get(reverse("agreement:dashboard", args=[project.id])).content.decode()
    assert "Krippendorff" in page
    assert any(f">{band}<" in page for band in ("reliable", "tentative", "not reliable"))
    assert 'data-alpha="topic"' in page
    assert "ann0" in page
    assert "<svg" in page
    assert "hard-1" in page  # among the lowest-agreement tasks


def test_dashboard_without_snapshot_and_roles(client, lead, annotator, outsider, project):
    client.force_login(lead)
    page = client.get(reverse("agreement:dashboard", args=[project.id]))
    assert page.status_code == 200
    assert b"No agreement computed yet" in page.content
    client.force_login(annotator)
    assert client.get(reverse("agreement:dashboard", args=[project.id])).status_code == 403
    client.force_login(outsider)
    assert client.get(reverse("agreement:review-queue", args=[project.id])).status_code == 404


def test_review_queue_lists_disputed_tasks(client, reviewer, disputed, project):
    client.force_login(reviewer)
    page = client.get(reverse("agreement:review-queue", args=[project.id])).content.decode()
    assert "hard-1" in page
    assert "easy-1" not in page


def test_resolving_a_task(client, reviewer, disputed, project):
    task, _ = disputed
    client.force_login(reviewer)
    url = reverse("agreement:review-task", args=[project.id, task.id])
    page = client.get(url).content.decode()
    assert "ann0" in page
    assert "ann2" in page
    assert "tie" in page
    # Each answer as its type shows it: the rating's label, the preference in words.
    assert "5 · Excellent" in page
    assert "A is better" in page
    bad = client.post(url, {"q-better": "A", "q-quality": "9", "q-topic": "writing"})
    assert bad.status_code == 400
    assert "quality" in bad.content.decode()
    assert not Resolution.objects.filter(task=task).exists()
    done = client.post(
        url, {"q-better": "B", "q-quality": "2", "q-topic": "coding", "comment": "B wins"}
    )
    assert done.status_code == 302
    resolution = Resolution.objects.get(task=task)
    assert resolution.values == {"better": "B", "quality": 2, "topic": "coding"}
    assert resolution.reviewer == reviewer
    task.refresh_from_db()
    assert task.state == Task.State.RESOLVED
    # A later recomputation leaves resolved tasks alone.
    agreement_snapshot_create(project_id=project.id, bootstrap=0)
    task.refresh_from_db()
    assert task.state == Task.State.RESOLVED


def test_accept_and_reject_with_feedback_for_the_annotator(client, reviewer, disputed, project):
    task, people = disputed
    annotation = Annotation.objects.get(task=task, annotator=people[2])
    client.force_login(reviewer)
    url = reverse("agreement:annotation-review", args=[project.id, task.id, annotation.id])
    response = client.post(
        url,
        {"review_state": "rejected", "comment": "Read the guidelines on ties"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Rejected" in response.content.decode()
    assert client.post(url, {"review_state": "maybe"}).status_code == 302
    annotation.refresh_from_db()
    assert annotation.review_state == "rejected"
    assert annotation.reviewed_by == reviewer
    feedback = list(feedback_for(people[2], project))
    assert [f.review_comment for f in feedback] == ["Read the guidelines on ties"]
    assert list(feedback_for(people[0], project)) == []
    from django.template.loader import render_to_string

    html = render_to_string("agreement/partials/my_feedback.html", {"feedback": feedback})
    assert "Read the guidelines on ties" in html
    assert "hard-1" in html


@pytest.mark.django_db(transaction=True)
def test_refresh_button_recomputes_and_panels_poll_until_done(celery_worker, client, lead, project):
    from tests.conftest import wait_for

    task = TaskFactory(project=project, external_id="r1", state=Task.State.COMPLETE)
    for i, topic in enumerate(["writing", "writing", "coding"]):
        AnnotationFactory(
            task=task,
            annotator=UserFactory(username=f"r{i}"),
            values={"better": "A", "quality": 3, "topic": topic},
        )
    client.force_login(lead)
    url = reverse("agreement:dashboard-refresh", args=[project.id])
    panels = client.post(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Recomputing" in panels
    assert 'hx-trigger="every 2s"' in panels
    poll = reverse("agreement:dashboard", args=[project.id]) + "?after=0"

    def done():
        html = client.get(poll, HTTP_HX_REQUEST="true").content.decode()
        return html if "Recomputing" not in html else None

    html = wait_for(done, timeout=30)
    assert 'data-alpha="topic"' in html
    assert "every 2s" not in html


def test_review_page_shows_the_whole_conversation_and_the_next_disputed_task(
    client, reviewer, project
):
    people = [UserFactory(username=f"hh{i}") for i in range(2)]
    conversation = {
        "messages": [
            {"role": "user", "content": "How do I pick a lock?"},
            {"role": "assistant", "content": "Why do you want to?"},
            {"role": "user", "content": "I locked myself out of my own shed."},
        ],
        "responses": ["Call a locksmith.", "Use a tension wrench and a pick."],
    }
    tasks = [
        TaskFactory(
            project=project, external_id=f"sha256:{n:064x}", data={**conversation, "meta": {"n": n}}
        )
        for n in range(2)
    ]
    for task in tasks:
        for person, better in zip(people, ("A", "B"), strict=True):
            AnnotationFactory(
                task=task, annotator=person, values={"better": better, "quality": 3}
            )
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(state=Task.State.DISPUTED)
    client.force_login(reviewer)

    page = client.get(reverse("agreement:review-task", args=[project.id, tasks[0].pk]))
    html = page.content.decode()
    # Every turn the annotators read, not only the two responses.
    for turn in ("How do I pick a lock?", "Why do you want to?", "locked myself out"):
        assert turn in html
    assert "Use a tension wrench and a pick." in html
    # Named by its prompt, not by its hash alone.
    assert "<h2>How do I pick a lock?</h2>" in html
    next_url = reverse("agreement:review-task", args=[project.id, tasks[1].pk])
    assert f'href="{next_url}" data-next-task' in html

    queue = client.get(reverse("agreement:review-queue", args=[project.id])).content.decode()
    assert "How do I pick a lock?" in queue

    last = client.get(next_url).content.decode()
    assert "No other disputed task" not in last  # the first one is still disputed
    Task.objects.filter(pk=tasks[0].pk).update(state=Task.State.RESOLVED)
    assert "No other disputed task" in client.get(next_url).content.decode()


def test_revising_a_reviewed_answer_sends_it_back_to_review(client, reviewer, disputed, project):
    from labeling.services import annotation_revise

    task, people = disputed
    answer = Annotation.objects.get(task=task, annotator=people[0])
    client.force_login(reviewer)
    client.post(
        reverse("agreement:annotation-review", args=[project.id, task.id, answer.id]),
        {"review_state": "accepted", "comment": "good"},
    )
    answer.refresh_from_db()
    assert answer.review_state == "accepted"
    annotation_revise(annotation=answer, values={**answer.values, "quality": 2})
    answer.refresh_from_db()
    # An export of reviewed answers must not ship text no reviewer saw.
    assert answer.review_state == "pending"
    revision = answer.revisions.get()
    assert revision.review_state == "accepted"
    assert revision.values["quality"] == 5


def test_a_task_without_answers_cannot_be_resolved(client, reviewer, project):
    task = TaskFactory(project=project, state=Task.State.OPEN)
    client.force_login(reviewer)
    response = client.post(
        reverse("agreement:review-task", args=[project.id, task.id]),
        {"q-better": "A", "q-quality": "3", "q-topic": "coding"},
    )
    assert response.status_code == 400
    assert "nothing to resolve" in response.content.decode()
    assert not Resolution.objects.filter(task=task).exists()
    assert Task.objects.get(pk=task.pk).state == Task.State.OPEN
