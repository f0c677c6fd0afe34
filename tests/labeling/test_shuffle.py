"""Responses shown in an order of each annotator's own; answers stored in the stored order."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from projects.models import Annotation, Role
from projects.questions.order import response_order
from tests.conftest import wait_for
from tests.factories import MembershipFactory, ProjectFactory, TaskFactory, UserFactory

RESPONSES = ["Alpha reply here.", "Beta reply here."]


def _setup():
    """A shuffling project, one task, and two annotators who see its responses differently."""
    project = ProjectFactory(shuffle_responses=True, overlap=2)
    task = TaskFactory(project=project, data={"instruction": "Greet", "responses": RESPONSES})
    people = []
    for i in range(12):
        user = UserFactory(username=f"shuffle{i}")
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        if not people or response_order(task.pk, user.pk, 2) != people[0][1]:
            people.append((user, response_order(task.pk, user.pk, 2)))
        if len(people) == 2:
            return project, task, people
    raise AssertionError("twelve annotators all saw the same order")


def _shown(html: str) -> list[int]:
    """The stored indices of the responses in the order the page shows them."""
    at = {i: html.index(text) for i, text in enumerate(RESPONSES)}
    return sorted(at, key=at.get)


@pytest.mark.django_db
def test_the_page_shows_each_annotator_their_order_and_stores_answers_canonical(client):
    project, task, people = _setup()
    for user, order in people:
        client.force_login(user)
        page = client.get(reverse("labeling:label", args=[project.pk])).content.decode()
        assert _shown(page) == order
        # A reload shows the same order.
        again = client.get(reverse("labeling:label", args=[project.pk])).content.decode()
        assert _shown(again) == order
        client.post(
            reverse("labeling:label-submit", args=[project.pk, task.pk]),
            {"q-better": "A", "q-quality": "4", "q-topic": "writing"},
        )
        answer = Annotation.objects.get(task=task, annotator=user)
        # "A" is the first response this annotator saw.
        assert answer.values["better"] == "AB"[order[0]]
        assert answer.values["quality"] == 4
        assert answer.shown_order == order
    stored = {a.values["better"] for a in Annotation.objects.filter(task=task)}
    assert stored == {"A", "B"}  # the same gesture, the two different responses


@pytest.mark.django_db
def test_the_rating_names_the_letter_its_response_is_shown_under(client):
    project, _task, people = _setup()
    for user, order in people:
        client.force_login(user)
        page = client.get(reverse("labeling:label", args=[project.pk])).content.decode()
        assert f"(response {'AB'[order.index(0)]})" in page


@pytest.mark.django_db
def test_next_task_gives_the_order_to_show_and_submits_are_canonical(api):
    project, task, people = _setup()
    for user, order in people:
        body = api(user).get(f"/api/v1/projects/{project.pk}/next-task/").json()
        assert body["data"]["responses"] == RESPONSES  # as stored
        assert body["response_order"] == order
        response = api(user).post(
            f"/api/v1/tasks/{task.pk}/annotations/",
            {"values": {"better": "B", "quality": 3, "topic": "coding"}},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["values"]["better"] == "B"  # never remapped
        assert response.json()["shown_order"] == order


@pytest.mark.django_db
def test_projects_created_now_shuffle_and_the_lead_may_turn_it_off(api, staff):
    questions = [{"name": "better", "type": "preference"}]
    created = api(staff).post(
        "/api/v1/projects/", {"name": "Pairs", "questions": questions}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["shuffle_responses"] is True
    url = f"/api/v1/projects/{created.json()['id']}/"
    changed = api(staff).patch(url, {"shuffle_responses": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert api(staff).get(url).json()["shuffle_responses"] is False
    bad = api(staff).patch(url, {"shuffle_responses": "sometimes"}, format="json")
    assert bad.status_code == 400
    assert "shuffle_responses" in bad.json()


@pytest.mark.django_db(transaction=True)
def test_two_annotators_in_the_browser_see_different_orders(page_as):
    project, task, people = _setup()
    for user, order in people:
        page = page_as(user)
        page.goto(f"/projects/{project.pk}/label/")
        page.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
        first = page.locator(".response.card").first
        assert RESPONSES[order[0]] in first.inner_text()
        assert "RESPONSE A" in first.inner_text().upper()
        page.keyboard.press("a")  # the first response shown is better
        page.keyboard.press("j")
        page.keyboard.press("5")
        page.keyboard.press("1")  # topic: writing
        page.keyboard.press("Control+Enter")
        answer = wait_for(lambda u=user: Annotation.objects.filter(task=task, annotator=u).first())
        assert answer.values["better"] == "AB"[order[0]]
        assert answer.shown_order == order
    stored = sorted(a.values["better"] for a in Annotation.objects.filter(task=task))
    assert stored == ["A", "B"]


@pytest.mark.django_db
def test_the_project_form_offers_the_option_checked_for_a_new_project(client, staff):
    client.force_login(staff)
    page = client.get(reverse("projects:project-create")).content.decode()
    box = re.search(r'<input type="checkbox" name="shuffle_responses"[^>]*>', page)
    assert box is not None
    assert " checked" in box.group(0)


@pytest.mark.django_db
def test_revising_shows_the_first_order_and_keeps_answers_canonical(client):
    project, task, people = _setup()
    user, order = next((u, o) for u, o in people if o == [1, 0])
    client.force_login(user)
    client.get(reverse("labeling:label", args=[project.pk]))
    client.post(
        reverse("labeling:label-submit", args=[project.pk, task.pk]),
        {"q-better": "A", "q-quality": "4", "q-topic": "writing"},
    )
    answer = Annotation.objects.get(task=task, annotator=user)
    assert answer.values["better"] == "B"
    url = reverse("labeling:answer-revise", args=[project.pk, answer.pk])
    page = client.get(url).content.decode()
    assert _shown(page) == order
    assert 'value="A" checked' in page  # the stored "B" is the first one shown
    client.post(url, {"q-better": "B", "q-quality": "4", "q-topic": "writing"})
    answer.refresh_from_db()
    assert answer.values["better"] == "A"
    assert answer.shown_order == order


@pytest.mark.django_db
def test_a_preference_on_three_responses_always_shows_its_pair_as_a_and_b():
    from labeling.services import shown_order

    data = {"instruction": "Greet", "responses": ["one", "two", "three"]}
    compare = ProjectFactory(
        shuffle_responses=True, questions=[{"name": "better", "type": "preference"}]
    )
    rank = ProjectFactory(shuffle_responses=True, questions=[{"name": "order", "type": "ranking"}])
    people = UserFactory.create_batch(30)
    compared_task = TaskFactory(project=compare, data=data)
    ranked_task = TaskFactory(project=rank, data=data)
    compared = [shown_order(compared_task, user) for user in people]
    ranked = [shown_order(ranked_task, user) for user in people]
    # "A is better" names response 0 or 1, never the third one shown first.
    assert all(sorted(order[:2]) == [0, 1] for order in compared)
    assert {order[0] for order in compared} == {0, 1}
    # Without a pair to compare, any response may come first.
    assert {order[0] for order in ranked} == {0, 1, 2}
