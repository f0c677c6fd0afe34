"""The labeling page in a real headless Chromium."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from imports.demo import demo_load
from labeling.models import Assignment, Draft
from projects.models import Annotation, Task
from tests.conftest import wait_for
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=1</script>"


def _task_id(page) -> int:
    return int(page.locator("#workspace").get_attribute("data-task"))


def _wait_for_new_task(page, old: int) -> None:
    page.wait_for_function(
        "old => { const w = document.getElementById('workspace');"
        " return w && w.dataset.ready && w.dataset.task !== String(old); }",
        arg=old,
    )


def test_keyboard_only_session_over_three_demo_tasks(page_as):
    project, _ = demo_load()
    ann1 = get_user_model().objects.get(username="ann1")
    page = page_as(ann1)
    page.goto(f"/projects/{project.pk}/label/")
    seen = []
    for _ in range(3):
        task_id = _task_id(page)
        seen.append(task_id)
        page.keyboard.press("?")
        assert page.locator("#shortcuts").is_visible()
        page.keyboard.press("Escape")
        page.keyboard.press("b")  # preference: B is better
        page.keyboard.press("j")  # next question: rating
        page.keyboard.press("4")  # rating 4, moves on to the text question
        page.keyboard.press("Enter")  # write in the correction
        page.keyboard.press("Control+End")
        page.keyboard.type(" Edited.")
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Enter")
        _wait_for_new_task(page, task_id)
    answers = Annotation.objects.filter(annotator=ann1).order_by("id")
    assert [a.task_id for a in answers] == seen
    for answer in answers:
        task = Task.objects.get(pk=answer.task_id)
        # "b" picks the second response shown, stored under its own letter.
        shown = answer.shown_order or [0, 1]
        assert answer.values["better"] == "AB"[shown[1]]
        assert answer.values["rating_a"] == 4
        assert answer.values["corrected_a"] == task.data["responses"][0] + " Edited."
        assert answer.lead_time_s > 0
        assert task.annotation_count == 1
    assert "3 answered" in page.locator("#progress-text").inner_text()


def test_markup_in_task_data_stays_inert(page_as, project, annotator):
    project.questions = [
        *project.questions,
        {"name": "fix", "type": "text", "prefill": "instruction", "required": False},
    ]
    project.save()
    TaskFactory(
        project=project,
        data={
            "instruction": XSS_IMG,
            "input": XSS_SCRIPT,
            "responses": [XSS_SCRIPT, f"[link](javascript:window.__xss=1) {XSS_IMG}"],
            "messages": [{"role": "user", "content": XSS_IMG}],
        },
    )
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    page.locator("textarea[name=q-fix]").press("End")
    page.keyboard.type(" more")
    page.wait_for_timeout(300)
    assert page.locator(".task-view a[href^='javascript']").count() == 0
    assert page.evaluate("window.__xss") is None
    text = page.locator(".task-view").inner_text()
    assert XSS_IMG in text
    assert XSS_SCRIPT in text
    assert XSS_IMG in page.locator(".diff").inner_text()
    assert page.locator(".task-view img").count() == 0


def test_draft_survives_a_reload(page_as, project, annotator):
    TaskFactory(project=project)
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    task_id = _task_id(page)
    page.keyboard.press("a")
    page.keyboard.press("j")
    page.keyboard.press("5")
    page.keyboard.press("3")
    page.reload()
    assert _task_id(page) == task_id
    assert page.locator("input[name=q-better][value=A]").is_checked()
    assert page.locator("input[name=q-quality][value='5']").is_checked()
    assert page.locator("input[name=q-topic][value=other]").is_checked()
    page.wait_for_timeout(500)
    page.locator("#label-form button[type=submit]").click()
    _wait_for_new_task(page, task_id)
    answer = Annotation.objects.get()
    assert answer.values == {"better": "A", "quality": 5, "topic": "other"}
    # Time on task spans the reload and reaches the submit made with the mouse.
    assert answer.lead_time_s >= 0.5
    # The stored draft is gone once the answer is saved.
    assert page.evaluate("Object.keys(localStorage).length") == 0


def test_double_submit_stores_one_annotation(page_as, project, annotator):
    TaskFactory.create_batch(2, project=project)
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    for key in ("b", "j", "2", "1"):
        page.keyboard.press(key)
    statuses = page.evaluate(
        """async () => {
            const f = document.getElementById('label-form');
            const send = () => fetch(f.action, {method: 'POST', body: new FormData(f),
                                               headers: {'HX-Request': 'true'}});
            const rs = await Promise.all([send(), send()]);
            return rs.map(r => r.status);
        }"""
    )
    assert statuses == [200, 200]
    page.locator("#label-form button[type=submit]").dblclick()
    page.wait_for_timeout(500)
    assert Annotation.objects.count() == 1
    assert Task.objects.filter(annotation_count=1).count() == 1


def test_ranking_multilabel_and_strength_by_keyboard(page_as, project, annotator):
    project.questions = [
        {"name": "order", "type": "ranking", "title": "Rank the responses"},
        {"name": "tags", "type": "multilabel", "options": ["short", "wrong", "rude"]},
        {"name": "pref", "type": "preference", "strength": True},
    ]
    project.save()
    TaskFactory(project=project, data={"instruction": "Hi", "responses": ["one", "two", "three"]})
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    task_id = _task_id(page)
    for key in ("3", "1", "j", "1", "3", "j", "b", "3"):
        page.keyboard.press(key)
    assert page.locator("ol.ranking li").all_inner_texts() == [
        "Response C",
        "Response A",
        "Response B",
    ]
    page.keyboard.press("Control+Enter")
    _wait_for_new_task(page, task_id)
    assert Annotation.objects.get().values == {
        "order": [2, 0, 1],
        "tags": ["short", "rude"],
        "pref": {"choice": "B", "strength": 3},
    }


def test_skip_by_keyboard_asks_for_a_reason(page_as, project, annotator):
    TaskFactory.create_batch(2, project=project)
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    task_id = _task_id(page)
    page.keyboard.press("s")
    assert page.locator("#skip-dialog").is_visible()
    page.keyboard.type("Needs domain knowledge")
    page.keyboard.press("Enter")
    _wait_for_new_task(page, task_id)
    skipped = Assignment.objects.get(task_id=task_id)
    assert skipped.state == "skipped"
    assert skipped.skip_reason == "Needs domain knowledge"
    assert "Skipped." in page.locator("#workspace").inner_text()


CONVERSATION = [
    {"role": "user", "content": "What is the capital of Australia?"},
    {"role": "assistant", "content": "The capital of Australia is Sydney."},
    {"role": "user", "content": "And its population?"},
    {"role": "assistant", "content": "About 5 million people live there."},
]


def _conversation_project(project):
    project.questions = [{"name": "reply", "type": "text", "title": "Reply"}]
    project.save()
    return TaskFactory(project=project, data={"messages": CONVERSATION})


def test_correct_an_earlier_assistant_turn_by_keyboard(page_as, project, annotator):
    task = _conversation_project(project)
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    status = page.locator(".turn-status")
    assert "Write the next assistant turn" in status.inner_text()
    page.keyboard.press("e")  # the last assistant turn
    assert "Correcting assistant turn 4" in status.inner_text()
    page.keyboard.press("Escape")
    page.keyboard.press("e")  # the one before it
    assert "Correcting assistant turn 2" in status.inner_text()
    assert page.locator(".conversation li.correcting").get_attribute("data-turn") == "1"
    textarea = page.locator("textarea[name=q-reply]")
    assert textarea.input_value() == CONVERSATION[1]["content"]
    textarea.press("Control+a")
    page.keyboard.type("The capital of Australia is Canberra.")
    assert page.locator(".diff ins").all_inner_texts() == ["Canberra."]
    assert page.locator(".diff del").all_inner_texts() == ["Sydney."]
    # The choice of turn survives a reload with the draft.
    page.wait_for_timeout(300)
    page.reload()
    assert "Correcting assistant turn 2" in page.locator(".turn-status").inner_text()
    page.keyboard.press("Control+Enter")
    _wait_for_new_task(page, task.pk)
    answer = Annotation.objects.get()
    assert answer.values == {"reply": {"text": "The capital of Australia is Canberra.", "turn": 1}}


def test_next_turn_after_changing_ones_mind(page_as, project, annotator):
    task = _conversation_project(project)
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    page.locator(".conversation li[data-turn='3'] .correct-turn").click()
    assert page.locator("textarea[name=q-reply]").input_value() == CONVERSATION[3]["content"]
    page.locator("[data-action=next-turn]").click()
    textarea = page.locator("textarea[name=q-reply]")
    assert textarea.input_value() == ""  # the untouched turn text is taken out again
    textarea.fill("Canberra has about 470,000 inhabitants.")
    page.keyboard.press("Control+Enter")
    _wait_for_new_task(page, task.pk)
    assert Annotation.objects.get().values == {"reply": "Canberra has about 470,000 inhabitants."}


def test_a_long_conversation_opens_at_the_turn_being_answered(page_as, project, annotator):
    project.questions = [{"name": "reply", "type": "text", "title": "Write the next reply"}]
    project.save(update_fields=["questions"])
    messages = []
    for n in range(20):
        messages.append({"role": "user", "content": f"Question number {n}, " + "words " * 40})
        messages.append({"role": "assistant", "content": f"Answer number {n}, " + "words " * 40})
    messages.append({"role": "user", "content": "And the last question?"})
    TaskFactory(project=project, data={"messages": messages})
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    page.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
    scroll = page.evaluate(
        "() => { const l = document.querySelector('.conversation');"
        " const last = l.lastElementChild.getBoundingClientRect();"
        " const box = l.getBoundingClientRect();"
        " return {top: l.scrollTop,"
        "         lastVisible: last.bottom <= box.bottom + 1 && last.top >= box.top}; }"
    )
    assert scroll["top"] > 0
    assert scroll["lastVisible"]


def test_a_draft_continues_in_another_browser(page_as, project, annotator):
    task = TaskFactory(project=project)
    first = page_as(annotator)
    first.goto(f"/projects/{project.pk}/label/")
    first.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
    assert _task_id(first) == task.pk
    first.keyboard.press("b")  # preference: B is better
    first.keyboard.press("j")
    first.keyboard.press("2")  # rating 2
    # The page saves to the server a moment after the last change.
    draft = wait_for(lambda: Draft.objects.filter(task=task, annotator=annotator).first())
    assert draft.fields["q-better"] == ["B"]

    second = page_as(annotator)  # another browser: no local storage of the first
    second.goto(f"/projects/{project.pk}/label/")
    second.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
    assert _task_id(second) == task.pk
    assert second.locator('input[name="q-better"][value="B"]').is_checked()
    assert second.locator('input[name="q-quality"][value="2"]').is_checked()
    notice = second.locator(".draft-notice")
    assert notice.is_visible()
    assert "saved on the server" in notice.inner_text()
    # Submitting there stores the answer and forgets the draft.
    second.keyboard.press("j")
    second.keyboard.press("j")
    second.keyboard.press("1")  # topic: writing
    second.keyboard.press("Control+Enter")
    wait_for(lambda: Annotation.objects.filter(task=task, annotator=annotator).exists())
    answer = Annotation.objects.get(task=task, annotator=annotator)
    assert answer.values["better"] == "B"
    assert answer.values["quality"] == 2
    wait_for(lambda: not Draft.objects.filter(task=task, annotator=annotator).exists())


def test_a_reload_without_answers_claims_no_restored_draft(page_as, project, annotator):
    TaskFactory(project=project)
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    page.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
    page.reload()
    page.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
    # The page keeps a draft from the start (its client id), but nothing was answered.
    assert not page.locator(".draft-notice").is_visible()
    page.keyboard.press("b")
    page.wait_for_function(
        "() => localStorage.length > 0 && Object.keys(localStorage)"
        ".some(k => localStorage.getItem(k).includes('\"B\"'))"
    )
    page.reload()
    page.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
    assert page.locator(".draft-notice").is_visible()
    assert page.locator('input[name="q-better"][value="B"]').is_checked()


def test_skip_with_a_preset_and_undo_by_keyboard(page_as, project, annotator):
    project.skip_reasons = ["Not enough context to judge", "Harmful content I will not judge"]
    project.save(update_fields=["skip_reasons"])
    first, second = TaskFactory(project=project), TaskFactory(project=project)
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    page.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
    skipped = _task_id(page)
    page.keyboard.press("s")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    _wait_for_new_task(page, skipped)
    lease = Assignment.objects.get(task_id=skipped, annotator=annotator)
    assert lease.state == "skipped"
    assert lease.skip_reason == "Harmful content I will not judge"
    assert {skipped, _task_id(page)} == {first.pk, second.pk}
    page.keyboard.press("u")
    _wait_for_new_task(page, _task_id(page))
    assert _task_id(page) == skipped
    assert page.get_by_text("Skip taken back.").is_visible()
    lease.refresh_from_db()
    assert lease.state == "leased"


def test_a_ranking_is_unanswered_until_the_annotator_orders_it(page_as, project, annotator):
    project.questions = [{"name": "order", "type": "ranking", "title": "Rank the responses"}]
    project.save(update_fields=["questions"])
    task = TaskFactory(project=project, data={"instruction": "Q", "responses": ["a", "b", "c"]})
    page = page_as(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    page.wait_for_function("() => document.getElementById('workspace')?.dataset.ready")
    assert page.get_by_text("Not ranked yet.").is_visible()
    page.keyboard.press("Control+Enter")
    page.get_by_text("order is required").wait_for()
    assert not Annotation.objects.filter(task=task).exists()
    page.keyboard.press("3")
    page.keyboard.press("1")
    page.keyboard.press("2")
    assert not page.get_by_text("Not ranked yet.").is_visible()
    page.keyboard.press("Control+Enter")
    wait_for(lambda: Annotation.objects.filter(task=task).exists())
    assert Annotation.objects.get(task=task).values == {"order": [2, 0, 1]}
