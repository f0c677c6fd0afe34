"""The dashboard and the review queue in a real browser."""

from __future__ import annotations

import pytest

from agreement.models import Resolution
from agreement.services import agreement_snapshot_create
from projects.models import Task
from tests.factories import AnnotationFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _annotated(project):
    people = [UserFactory(username=f"ann{i}") for i in range(3)]
    rows = {
        "t1": [("A", 5, "writing")] * 3,
        "t2": [("B", 2, "coding"), ("B", 2, "coding"), ("B", 1, "coding")],
        "t3": [("A", 1, "writing"), ("B", 5, "coding"), ("tie", 3, "other")],
    }
    tasks = {}
    for ext, answers in rows.items():
        tasks[ext] = TaskFactory(project=project, external_id=ext, state=Task.State.COMPLETE)
        for person, (better, quality, topic) in zip(people, answers, strict=True):
            AnnotationFactory(
                task=tasks[ext],
                annotator=person,
                values={"better": better, "quality": quality, "topic": topic},
            )
    project.agreement_threshold = 0.5
    project.save()
    snapshot = agreement_snapshot_create(project_id=project.id, bootstrap=200)
    return snapshot, tasks


def test_dashboard_shows_alpha(page_as, lead, project):
    snapshot, _ = _annotated(project)
    page = page_as(lead)
    page.goto(f"/projects/{project.id}/agreement/")
    alpha = snapshot.data["questions"]["topic"]["krippendorff_alpha"]
    cell = page.locator('[data-alpha="topic"]')
    assert cell.inner_text().strip() == f"{alpha:.3f}"
    assert page.get_by_role("img", name="Pairwise annotator agreement").is_visible()
    row = page.locator('tr[data-question="topic"]')
    assert any(band in row.inner_text() for band in ("reliable", "tentative", "not reliable"))


def test_reviewer_resolves_a_disputed_task(page_as, reviewer, project):
    _, tasks = _annotated(project)
    hard = Task.objects.get(pk=tasks["t3"].pk)
    assert hard.state == Task.State.DISPUTED
    page = page_as(reviewer)
    page.goto(f"/projects/{project.id}/review/")
    page.locator('tr[data-task="t3"]').get_by_role("link", name="Review").click()
    page.wait_for_url(f"**/review/{hard.id}/")
    form = page.locator("#resolve-form")
    form.locator('input[name="q-better"][value="B"]').check()
    form.locator('input[name="q-quality"][value="4"]').check()
    form.locator('input[name="q-topic"][value="coding"]').check()
    form.get_by_role("button", name="Save resolution").click()
    page.get_by_text("resolved", exact=False).first.wait_for()
    resolution = Resolution.objects.get(task=hard)
    assert resolution.values == {"better": "B", "quality": 4, "topic": "coding"}
    assert Task.objects.get(pk=hard.pk).state == Task.State.RESOLVED


def test_reviewer_resolves_a_conversation_by_keyboard_and_moves_on(page_as, reviewer, project):
    people = [UserFactory(username=f"hh{i}") for i in range(2)]
    tasks = []
    for n in range(2):
        task = TaskFactory(
            project=project,
            external_id=f"sha256:{n:064x}",
            state=Task.State.DISPUTED,
            data={
                "messages": [
                    {"role": "user", "content": f"How do I get into my own shed? ({n})"},
                    {"role": "assistant", "content": "Is it locked?"},
                    {"role": "user", "content": "Yes, and I lost the key."},
                ],
                "responses": ["Call a locksmith.", "Break the window."],
            },
        )
        for person, better in zip(people, ("A", "B"), strict=True):
            values = {"better": better, "quality": 2, "topic": "other"}
            AnnotationFactory(task=task, annotator=person, values=values)
        tasks.append(task)
    page = page_as(reviewer)
    page.goto(f"/projects/{project.id}/review/{tasks[0].id}/")
    assert page.get_by_text("Yes, and I lost the key.").is_visible()
    # No text question corrects turns here, so no turn offers a correction.
    assert not page.get_by_role("button", name="Correct this turn").first.is_visible()
    # The labeling keys: a letter for the preference, j to the next question, digits.
    page.keyboard.press("a")
    page.keyboard.press("j")
    page.keyboard.press("5")
    page.keyboard.press("j")
    page.keyboard.press("3")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/review/{tasks[0].id}/")
    page.get_by_text("resolved", exact=False).first.wait_for()
    resolution = Resolution.objects.get(task=tasks[0])
    assert resolution.values == {"better": "A", "quality": 5, "topic": "other"}
    page.keyboard.press("n")
    page.wait_for_url(f"**/review/{tasks[1].id}/")
    assert page.get_by_text("How do I get into my own shed? (1)").first.is_visible()
