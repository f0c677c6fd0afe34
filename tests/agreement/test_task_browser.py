"""The lead's task browser: search, filters, keyset pages, the task page and bulk actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from agreement.browser import PAGE_SIZE, browser_tasks
from agreement.models import Resolution, TaskAgreement
from imports.models import ImportJob
from imports.services import import_run
from labeling.models import Assignment
from projects.models import AnnotationRevision, Task
from projects.services import task_words_fill
from tests.conftest import page_queries
from tests.factories import AnnotationFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(project):
    """Five tasks: two about otters (one in a conversation), one disputed on topic, one gold."""
    made = [
        TaskFactory(
            project=project,
            external_id="otter-1",
            data={"instruction": "Describe how Sea Otters sleep", "responses": ["a", "b"]},
        ),
        TaskFactory(
            project=project,
            external_id="otter-2",
            state=Task.State.COMPLETE,
            data={
                "messages": [
                    {"role": "system", "content": "Be brief"},
                    {"role": "user", "content": "Do otters hold hands?"},
                ],
                "responses": ["yes", "no"],
            },
        ),
        TaskFactory(
            project=project,
            external_id="disputed",
            state=Task.State.DISPUTED,
            disputed_questions=["topic"],
        ),
        TaskFactory(project=project, external_id="gold", is_gold=True, gold={"topic": "other"}),
        TaskFactory(project=project, external_id="plain"),
    ]
    TaskAgreement.objects.create(task=made[1], agreement=0.9, consensus={"topic": "writing"})
    TaskAgreement.objects.create(task=made[2], agreement=0.2, consensus={"topic": "coding"})
    return made


def _ids(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    return [t.external_id for t in response.context["tasks"]]


def test_search_and_filters(client, lead, project, tasks):
    url = reverse("agreement:task-list", args=[project.pk])
    client.force_login(lead)
    assert _ids(client, url, q="otter") == ["otter-1", "otter-2"]  # a word's start: Otters
    assert _ids(client, url, q="HOLD hands") == ["otter-2"]  # a user turn, any case
    assert _ids(client, url, q="hands hold") == ["otter-2"]  # every word, in any order
    assert _ids(client, url, q='"hold hands"') == ["otter-2"]  # quoted: as typed
    assert _ids(client, url, q='"hands hold"') == []
    assert _ids(client, url, q="otters dolphins") == []  # every word must be there
    assert _ids(client, url, q="tters") == []  # words and their starts, not any substring
    assert _ids(client, url, q="be brief") == []  # the system prompt is not searched
    assert _ids(client, url, q="100%") == []  # punctuation is no wildcard
    assert _ids(client, url, q='"sea%otters"') == []  # nor in a quoted phrase
    assert _ids(client, url, q="'otter':* &") == ["otter-1", "otter-2"]  # no query syntax:
    assert _ids(client, url, q="!hold") == ["otter-2"]  # ! is no "not"
    assert _ids(client, url, state=["complete", "disputed"]) == ["otter-2", "disputed"]
    assert _ids(client, url, agreement_min="0.5") == ["otter-2"]
    assert _ids(client, url, agreement_max="0.5") == ["disputed"]
    assert _ids(client, url, question="topic") == ["disputed"]
    assert _ids(client, url, is_gold="true") == ["gold"]
    someone = UserFactory()
    AnnotationFactory(task=tasks[4], annotator=someone)
    assert _ids(client, url, annotator=str(someone.pk)) == ["plain"]
    html = client.get(url).content.decode()
    assert "Describe how Sea Otters sleep" in html
    assert "otter-1" in html
    # A question in dispute is named as annotators read it, on the list and the task page.
    for q in project.questions:
        q["title"] = "What is it about?" if q["name"] == "topic" else q.get("title")
    project.save(update_fields=["questions"])
    row = client.get(url, {"state": "disputed"}).content.decode()
    assert "What is it about?" in row
    page = client.get(reverse("agreement:task-detail", args=[project.pk, tasks[2].pk]))
    assert "in dispute: What is it about?" in page.content.decode()


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"agreement_min": "high"}, "agreement_min"),
        ({"question": "nope"}, "question"),
        ({"state": "lost"}, "state"),
        ({"annotator": "bob"}, "annotator"),
        ({"q": "%?!"}, "q"),
        ({"import": "latest"}, "import"),
    ],
)
def test_bad_filter_is_400_naming_it(client, lead, project, tasks, params, named):
    client.force_login(lead)
    response = client.get(reverse("agreement:task-list", args=[project.pk]), params)
    assert response.status_code == 400
    assert named in response.context["error"]


def test_keyset_pages(client, lead, project, monkeypatch):
    monkeypatch.setattr("agreement.browser.PAGE_SIZE", 2)
    TaskFactory.create_batch(5, project=project)
    url = reverse("agreement:task-list", args=[project.pk])
    client.force_login(lead)
    seen, params = [], {"state": "open"}
    while True:
        response = client.get(url, params)
        seen += [t.pk for t in response.context["tasks"]]
        if not response.context["next_query"]:
            break
        assert "state=open" in response.context["next_query"]
        params = dict(p.split("=") for p in response.context["next_query"].split("&"))
    assert seen == sorted(Task.objects.filter(project=project).values_list("id", flat=True))


def test_roles(client, project, tasks, reviewer, annotator):
    url = reverse("agreement:task-list", args=[project.pk])
    client.force_login(annotator)
    assert client.get(url).status_code == 403
    client.force_login(reviewer)
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="action"' not in response.content.decode()
    bulk = reverse("agreement:task-bulk", args=[project.pk])
    assert client.post(bulk, {"action": "reopen", "task": tasks[2].pk}).status_code == 403


def test_page_query_count(client, lead, project, tasks, django_assert_num_queries):
    url = reverse("agreement:task-list", args=[project.pk]) + "?q=otter&state=complete&import=1"
    Task.objects.filter(pk=tasks[1].pk).update(import_id=1)
    # Session, user, project with role, the members for the annotator filter, the
    # imports for the import filter, the page.
    response = page_queries(client, lead, url, django_assert_num_queries, 6)
    assert "otter-2" in response.content.decode()


def test_search_uses_the_word_index(project, tasks):
    """The searched page reads the words' GIN index, not every task; tasks stored
    since the words were last written are searched too, without it."""
    Task.objects.bulk_create(
        Task(
            project=project,
            external_id=f"filler-{i}",
            data={"instruction": f"Filler prompt number {i}"},
            content_hash=f"filler-{i}",
        )
        for i in range(3000)
    )
    assert task_words_fill(project_id=project.pk) == 3005
    late = TaskFactory(project=project, data={"instruction": "Otters after the fill"})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE projects_task")
        cursor.execute("ANALYZE projects_taskwords")

    def plan(q: str) -> str:
        # A few thousand rows of words are as cheap to read whole; forbid that, to
        # see that the query can use the index (at a million it must).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            try:
                return browser_tasks(project=project, filters={"q": q})[: PAGE_SIZE + 1].explain()
            finally:
                cursor.execute("SET LOCAL enable_seqscan = on")

    def found(q: str) -> list[int]:
        return [t.pk for t in browser_tasks(project=project, filters={"q": q})]

    assert "task_words_search" in plan("otter hold"), plan("otter hold")
    # A quoted phrase's ILIKE only rechecks the tasks the words found.
    assert "task_words_search" in plan('"hold hands"'), plan('"hold hands"')
    assert found("otter") == [tasks[0].pk, tasks[1].pk, late.pk]
    assert found("filler 2999") == [Task.objects.get(external_id="filler-2999").pk]
    assert task_words_fill(project_id=project.pk) == 1  # only the late task
    assert found("otter") == [tasks[0].pk, tasks[1].pk, late.pk]
    late.delete()  # its words go with it
    assert found("otter") == [tasks[0].pk, tasks[1].pk]


def test_import_filter(client, lead, project, tmp_path, api):
    """Each task records the import that stored it; the browser and the API filter by it."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text('{"instruction": "Name a river"}\n{"instruction": "Name a lake"}\n')
    second.write_text('{"instruction": "Name a lake"}\n{"instruction": "Name a sea"}\n')
    jobs = []
    for path in (first, second):
        job = ImportJob.objects.create(project=project, file_path=str(path), filename=path.name)
        import_run(job_id=job.pk)
        jobs.append(job)
    TaskFactory(project=project, external_id="by-hand")
    by_prompt = dict(Task.objects.filter(project=project).values_list("data__instruction", "pk"))
    url = reverse("agreement:task-list", args=[project.pk])
    client.force_login(lead)

    def prompts(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return [t.snippet for t in response.context["tasks"]]

    # The lake came with the first import; the second skipped it as a duplicate.
    assert prompts(**{"import": jobs[0].pk}) == ["Name a river", "Name a lake"]
    assert prompts(**{"import": jobs[1].pk}) == ["Name a sea"]
    assert prompts(**{"import": jobs[1].pk, "q": "river"}) == []
    html = client.get(url, {"import": jobs[1].pk}).content.decode()
    assert f'<option value="{jobs[1].pk}" selected>#{jobs[1].pk} second.jsonl (1 new' in html
    assert f'<option value="{jobs[0].pk}" >#{jobs[0].pk} first.jsonl (2 new' in html
    assert (
        f"import={jobs[1].pk}"
        in client.get(url, {"import": jobs[1].pk, "q": "name"}).context["query"]
    )
    listed = api(lead).get(
        f"/api/v1/projects/{project.pk}/tasks/", {"import": jobs[0].pk, "state": "open"}
    )
    assert listed.status_code == 200
    assert sorted(t["id"] for t in listed.json()["results"]) == sorted(
        [by_prompt["Name a river"], by_prompt["Name a lake"]]
    )
    assert api(lead).get(f"/api/v1/projects/{project.pk}/tasks/", {"import": "x"}).status_code == (
        400
    )


def test_task_page_shows_everything(client, lead, project, tasks, django_assert_num_queries):
    task = tasks[2]
    ann1, ann2 = UserFactory(username="ann1"), UserFactory(username="ann2")
    first = AnnotationFactory(
        task=task,
        annotator=ann1,
        values={"topic": "coding"},
        review_state="rejected",
        review_comment="not code",
        reviewed_by=lead,
        reviewed_at=timezone.now(),
    )
    AnnotationFactory(task=task, annotator=ann2, values={"topic": "writing", "better": "B"})
    AnnotationRevision.objects.create(
        annotation=first,
        values={"topic": "other"},
        created_at=timezone.now(),
        review_state="accepted",
    )
    Resolution.objects.create(
        task=task, values={"topic": "coding"}, reviewer=lead, comment="it is code"
    )
    now = timezone.now()
    Assignment.objects.create(
        project=project,
        task=task,
        annotator=UserFactory(username="ann3"),
        leased_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    Assignment.objects.create(
        project=project,
        task=task,
        annotator=UserFactory(username="old"),
        leased_at=now,
        expires_at=now - timedelta(minutes=5),
    )
    url = reverse("agreement:task-detail", args=[project.pk, task.pk])
    # Session, user, project with role, task with agreement and resolution and its reviewer,
    # answers, revisions, leases.
    html = page_queries(client, lead, url, django_assert_num_queries, 7).content.decode()
    assert "Write a haiku" in html  # the task as annotators see it
    assert "ann1" in html
    assert "ann2" in html
    assert "not code" in html
    assert "Rejected" in html
    assert "1 earlier version" in html
    assert "was accepted" in html
    assert "Response B" in html  # answers shown readably, not as raw "B"
    assert "it is code" in html
    assert "ann3" in html
    assert ">old " not in html
    other = TaskFactory()
    missing = reverse("agreement:task-detail", args=[project.pk, other.pk])
    assert client.get(missing).status_code == 404


def _bulk(client, project, action, *ids):
    url = reverse("agreement:task-bulk", args=[project.pk])
    return client.post(url, {"action": action, "task": [str(i) for i in ids], "query": "q=x"})


def test_bulk_gold_uses_resolution_then_consensus(client, lead, project, tasks):
    client.force_login(lead)
    Resolution.objects.create(task=tasks[2], values={"topic": "other"}, reviewer=lead)
    response = _bulk(client, project, "gold", tasks[1].pk, tasks[2].pk)
    assert response.status_code == 302
    assert response.url.endswith("/tasks/?q=x")
    got = dict(Task.objects.filter(is_gold=True).values_list("external_id", "gold"))
    assert got["otter-2"] == {"topic": "writing"}
    assert got["disputed"] == {"topic": "other"}


def test_bulk_gold_is_all_or_nothing(client, lead, project, tasks):
    client.force_login(lead)
    response = _bulk(client, project, "gold", tasks[1].pk, tasks[4].pk)  # plain has no answer
    assert response.status_code == 400
    assert "plain" in response.context["error"]
    assert not Task.objects.get(pk=tasks[1].pk).is_gold


def test_bulk_reopen(client, lead, project, tasks):
    client.force_login(lead)
    Task.objects.filter(pk=tasks[2].pk).update(target_overlap=5)
    assert _bulk(client, project, "reopen", tasks[1].pk, tasks[2].pk).status_code == 302
    rows = Task.objects.filter(pk__in=[tasks[1].pk, tasks[2].pk])
    assert {(t.state, t.target_overlap) for t in rows} == {("open", None)}


def test_bulk_release(client, lead, project, tasks):
    client.force_login(lead)
    now = timezone.now()
    lease = Assignment.objects.create(
        project=project,
        task=tasks[0],
        annotator=UserFactory(),
        leased_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    assert _bulk(client, project, "release", tasks[0].pk).status_code == 302
    lease.refresh_from_db()
    assert lease.state == Assignment.State.RELEASED
    assert lease.finished_at is not None


def test_bulk_remove(client, lead, project, tasks):
    client.force_login(lead)
    AnnotationFactory(task=tasks[1])
    assert _bulk(client, project, "remove", tasks[1].pk, tasks[2].pk).status_code == 302
    left = set(Task.objects.filter(project=project).values_list("external_id", flat=True))
    assert left == {"otter-1", "gold", "plain"}
    assert not TaskAgreement.objects.filter(task_id__in=[tasks[1].pk, tasks[2].pk]).exists()


def test_bulk_refuses_bad_input(client, lead, project, tasks):
    client.force_login(lead)
    other = TaskFactory()
    assert _bulk(client, project, "explode", tasks[0].pk).status_code == 400
    assert _bulk(client, project, "remove").status_code == 400
    assert _bulk(client, project, "remove", "abc").status_code == 400
    response = _bulk(client, project, "remove", tasks[0].pk, other.pk)
    assert response.status_code == 400
    assert str(other.pk) in response.context["error"]
    assert Task.objects.filter(pk__in=[tasks[0].pk, other.pk]).count() == 2
    assert client.get(reverse("agreement:task-bulk", args=[project.pk])).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_lead_searches_and_reopens_in_a_browser(page_as, lead, project, tmp_path):
    TaskFactory(
        project=project,
        external_id="sha256:8f297a4b",
        state=Task.State.DISPUTED,
        data={"instruction": "Summarise the lighthouse keeper's log", "responses": ["a", "b"]},
    )
    TaskFactory(project=project, external_id="other")
    page = page_as(lead)
    page.goto(f"/projects/{project.id}/tasks/")
    page.get_by_role("link", name="Tasks").first.wait_for()
    page.fill("input[name=q]", "LIGHTHOUSE")
    page.click("button:has-text('Filter')")
    rows = page.locator("tr[data-task]")
    assert rows.count() == 1
    assert "lighthouse keeper" in rows.first.inner_text()
    page.screenshot(path=str(tmp_path / "tasks.png"), full_page=True)
    page.check("input[name=task]")
    page.click("button[value=reopen]")
    page.locator("text=Re-open: 1 done.").wait_for()
    assert "q=LIGHTHOUSE" in page.url  # back on the same search
    assert page.locator("tr[data-task] .badge").first.inner_text() == "Open"
    page.click("tr[data-task] a")
    page.locator("[data-external-id]").wait_for()
    assert "Summarise the lighthouse" in page.content()
    page.screenshot(path=str(tmp_path / "task.png"), full_page=True)
    page.goto(f"/projects/{project.id}/tasks/")
    page.check("[data-select-all]")
    assert page.locator("input[name=task]:checked").count() == 2
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button[value=remove]")
    assert Task.objects.filter(project=project).count() == 2  # asked, and told no
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[value=remove]")
    page.locator("text=Remove: 2 done.").wait_for()
    assert not Task.objects.filter(project=project).exists()
