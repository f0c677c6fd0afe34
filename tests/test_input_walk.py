"""Input that cannot hurt: every endpoint and form that takes text, integers or JSON,
walked with a NUL, a lone surrogate, deep nesting and non-ASCII or endless digits,
as a lead and as an annotator. Each answers a 4xx (or the form again, naming the
field) with a clear message, never a 500, and writes nothing."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from exports.models import Export
from labeling.services import annotation_submit, assignment_lease_next
from projects.models import Annotation, Role, Task
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {"name": "note", "type": "text", "required": False},
    {"name": "better", "type": "preference", "strength": True},
    {"name": "quality", "type": "rating", "min": 1, "max": 5},
    {"name": "order", "type": "ranking"},
    {"name": "topic", "type": "label", "options": ["a", "b"]},
]
GOOD = {
    "note": "",
    "better": {"choice": "A", "strength": 2},
    "quality": 3,
    "order": [0, 1],
    "topic": "a",
}
GOOD_POST = {"q-note": "", "q-better": "A", "q-better-strength": "2", "q-quality": "3",
             "q-order": "0,1", "q-topic": "a"}  # fmt: skip
EXPORT_BYTES = b'{"instruction": "x", "output": "y"}\n' * 20


def _task(project, n: int) -> Task:
    data = {"instruction": f"Task {n}", "responses": [f"A{n}", f"B{n}"]}
    digest = hashlib.sha256(f"{project.pk}:{n}".encode()).hexdigest()
    return Task.objects.create(project=project, external_id=f"t{n}", data=data, content_hash=digest)


@pytest.fixture
def world(tmp_path, settings):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    project = ProjectFactory(questions=[dict(q) for q in QUESTIONS], overlap=3)
    users = {}
    for role in (Role.LEAD, Role.ANNOTATOR):
        users[role] = UserFactory(username=role)
        MembershipFactory(project=project, user=users[role], role=role)
        Token.objects.get_or_create(user=users[role])
    leased, answered = _task(project, 1), _task(project, 2)
    for role in (Role.LEAD, Role.ANNOTATOR):
        annotation_submit(task=answered, annotator=users[role], values=dict(GOOD))
    assignments = {r: assignment_lease_next(project=project, annotator=u) for r, u in users.items()}
    export = Export.objects.create(project=project, format="alpaca", schema=project.questions)
    path = settings.EXPORT_ROOT / f"export-{export.pk}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(EXPORT_BYTES)
    Export.objects.filter(pk=export.pk).update(
        state="ready", file_path=str(path), sha256=hashlib.sha256(EXPORT_BYTES).hexdigest(),
        bytes=len(EXPORT_BYTES), row_count=20, progress=1.0,
    )  # fmt: skip
    return {
        "project": project,
        "users": users,
        "leased": leased,
        "answered": answered,
        "assignments": assignments,
        "answers": {
            r: Annotation.objects.get(task=answered, annotator=u) for r, u in users.items()
        },
        "export": export,
    }


def snapshot() -> dict:
    """Every row of our apps (and the users): a request that writes anything changes it."""
    state = {}
    for label in ("projects", "labeling", "imports", "agreement", "exports", "authtoken"):
        for model in apps.get_app_config(label).get_models():
            state[model._meta.label] = list(model.objects.order_by("pk").values())
    users = get_user_model().objects.order_by("pk").values("pk", "username", "is_active")
    state["users"] = list(users)
    return state


class Caller:
    """One persona's view of the world: ``api`` with its token, ``web`` with its session."""

    def __init__(self, world: dict, role: str):
        self.w = world
        self.role = role
        self.p = world["project"].pk
        user = world["users"][role]
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
        self.web = Client()
        self.web.force_login(user)
        self.assignment = world["assignments"][role]
        self.answer = world["answers"][role]

    def json(self, method: str, url: str, body, raw: bytes | None = None):
        data = raw if raw is not None else json.dumps(body)
        return getattr(self.api, method)(url, data=data, content_type="application/json")


# --- the requests: (name, call(caller, bad)) -----------------------------------
# ``bad`` is the offending text: a NUL or a lone surrogate.


def _p(c: Caller) -> str:
    return f"/api/v1/projects/{c.p}"


API_TEXT = {
    "token": lambda c, bad: c.json(
        "post", "/api/v1/auth/token/", {"username": bad, "password": "x"}
    ),
    "users": lambda c, bad: c.json("post", "/api/v1/users/", {"username": bad, "password": "p"}),
    "project-create": lambda c, bad: c.json("post", "/api/v1/projects/", {"name": f"n{bad}"}),
    "project-patch": lambda c, bad: c.json("patch", f"{_p(c)}/", {"guidelines": bad}),
    "question-help": lambda c, bad: c.json(
        "patch", f"{_p(c)}/", {"questions": [{**QUESTIONS[4], "help": bad}, *QUESTIONS[:4]]}
    ),
    "question-options": lambda c, bad: c.json(
        "patch", f"{_p(c)}/", {"questions": [{**QUESTIONS[4], "options": ["a", "b", bad]}]}
    ),
    "members": lambda c, bad: c.json(
        "post", f"{_p(c)}/members/", {"username": bad, "role": "lead"}
    ),
    "tasks": lambda c, bad: c.json("post", f"{_p(c)}/tasks/", [{"data": {"instruction": bad}}]),
    "task-meta-key": lambda c, bad: c.json(
        "post", f"{_p(c)}/tasks/", [{"data": {"instruction": "i", "meta": {bad: 1}}}]
    ),
    "submit-text": lambda c, bad: c.json(
        "post", f"/api/v1/tasks/{c.w['leased'].pk}/annotations/", {"values": {**GOOD, "note": bad}}
    ),
    "annotations-import": lambda c, bad: c.json(
        "post",
        f"{_p(c)}/annotations/import/",
        [{"task": "t1", "annotator": "lead", "values": {**GOOD, "note": bad}}],
    ),
    "export-create": lambda c, bad: c.json(
        "post", f"{_p(c)}/exports/", {"format": "sft", "filters": {"seed": bad}}
    ),
    "export-token": lambda c, bad: c.json("post", f"{_p(c)}/export-tokens/", {"name": bad}),
    "import-mapping": lambda c, bad: c.api.post(
        f"{_p(c)}/imports/",
        {
            "file": SimpleUploadedFile("t.jsonl", b'{"instruction": "x"}\n'),
            "mapping": json.dumps({"instruction": bad}),
        },
    ),
    "filter-external-id": lambda c, bad: c.api.get(f"{_p(c)}/tasks/", {"external_id": bad}),
    "filter-state": lambda c, bad: c.api.get(f"{_p(c)}/tasks/", {"state": bad}),
    "filter-format": lambda c, bad: c.api.get(f"{_p(c)}/exports/", {"format": bad}),
    "latest-format": lambda c, bad: c.api.get(f"{_p(c)}/exports/latest/", {"format": bad}),
}


def _label(c: Caller, fields: dict):
    url = f"/projects/{c.p}/label/tasks/{c.w['leased'].pk}/submit/"
    return c.web.post(url, {**GOOD_POST, **fields}, HTTP_HX_REQUEST="true")


def _revise(c: Caller, fields: dict):
    return c.web.post(f"/projects/{c.p}/my-answers/{c.answer.pk}/", {**GOOD_POST, **fields})


def _resolve(c: Caller, fields: dict):
    url = f"/projects/{c.p}/review/{c.w['answered'].pk}/"
    return c.web.post(url, {**GOOD_POST, "comment": "", **fields})


def _project_form(c: Caller, fields: dict):
    form = {"name": "P", "description": "", "guidelines": "", "overlap": "3",
            "gold_fraction": "0", "lease_seconds": "600", "agreement_threshold": "0.5",
            "status": "active", "questions_json": json.dumps(QUESTIONS)}  # fmt: skip
    return c.web.post(f"/projects/{c.p}/edit/", {**form, **fields})


WEB_TEXT = {
    "form-label-text": lambda c, bad: _label(c, {"q-note": bad}),
    "form-skip-reason": lambda c, bad: c.web.post(
        f"/projects/{c.p}/label/assignments/{c.assignment.pk}/skip/", {"reason": bad}
    ),
    "form-revise": lambda c, bad: _revise(c, {"q-note": bad}),
    "form-resolve-comment": lambda c, bad: _resolve(c, {"comment": bad}),
    "form-review-comment": lambda c, bad: c.web.post(
        f"/projects/{c.p}/review/{c.w['answered'].pk}/annotations/{c.answer.pk}/",
        {"review_state": "accepted", "comment": bad},
    ),
    "form-project-create": lambda c, bad: c.web.post("/projects/new/", {"name": bad}),
    "form-project-guidelines": lambda c, bad: _project_form(c, {"guidelines": bad}),
    "form-question-help": lambda c, bad: _project_form(
        c, {"questions_json": json.dumps([{**QUESTIONS[4], "help": bad}, *QUESTIONS[:4]])}
    ),
    "form-preview": lambda c, bad: c.web.post(
        "/projects/preview/", {"questions_json": json.dumps([{**QUESTIONS[4], "help": bad}])}
    ),
    "form-member": lambda c, bad: c.web.post(
        f"/projects/{c.p}/members/", {"username": bad, "role": "lead"}
    ),
    "form-member-path": lambda c, bad: c.web.post(f"/projects/{c.p}/members/x%00y/delete/"),
    "form-export": lambda c, bad: c.web.post(
        f"/projects/{c.p}/exports/",
        {"format": "sft", "gold": "include", "seed": bad, "validation_ratio": "0.1"},
    ),
    "form-export-token": lambda c, bad: c.web.post(
        f"/projects/{c.p}/exports/tokens/new/", {"name": bad}
    ),
    "form-import-mapping": lambda c, bad: c.web.post(
        f"/projects/{c.p}/imports/",
        {
            "file": SimpleUploadedFile("t.jsonl", b'{"instruction": "x"}\n'),
            "shape": "mapping",
            "mapping": json.dumps({"instruction": bad}),
        },
    ),
    "form-dashboard-query": lambda c, bad: c.web.get(f"/projects/{c.p}/agreement/", {"sort": bad}),
}

PERSONAS = [Role.LEAD, Role.ANNOTATOR]
MESSAGES = {"\x00": "NUL", "\ud800": "surrogate"}


def _text(response) -> str:
    if getattr(response, "streaming", False):
        return ""
    return response.content.decode("utf-8", "replace")


def _check(response, before: dict, expected: str | None) -> None:
    assert response.status_code < 500, _text(response)[:500]
    assert snapshot() == before, "a refused request wrote rows"
    if response.status_code in (200, 400) and expected:
        assert expected in _text(response), _text(response)[:500]


def _carries_surrogates(name: str) -> bool:
    """A form body or query string is percent-decoded UTF-8: a lone surrogate cannot
    arrive in one, only inside JSON (a body, or JSON text typed into a form field)."""
    json_in_form = ("form-preview", "form-question-help", "form-import-mapping")
    in_query = name.startswith(("filter-", "latest-")) or name == "form-dashboard-query"
    return not ((name.startswith("form") and name not in json_in_form) or in_query)


TEXT_CASES = [
    pytest.param(name, bad, id=f"{name}-{'nul' if bad == chr(0) else 'surrogate'}")
    for name in [*API_TEXT, *WEB_TEXT]
    for bad in MESSAGES
    if bad == "\x00" or _carries_surrogates(name)
]


@pytest.mark.parametrize("role", PERSONAS)
@pytest.mark.parametrize(("name", "bad"), TEXT_CASES)
def test_text_that_cannot_be_stored_is_refused(world, role, bad, name):
    call = API_TEXT.get(name) or WEB_TEXT[name]
    caller = Caller(world, role)
    before = snapshot()
    response = call(caller, bad)
    assert 400 <= response.status_code < 500 or response.status_code == 200, _text(response)[:300]
    _check(response, before, MESSAGES[bad])


def _deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


@pytest.mark.parametrize("role", PERSONAS)
def test_json_nested_100000_deep_at_the_token_endpoint_is_a_400(world, role):
    before = snapshot()
    raw = b"[" * 100_000 + b"]" * 100_000
    response = APIClient().post("/api/v1/auth/token/", raw, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize("role", PERSONAS)
def test_task_meta_nested_300_deep_is_refused_naming_the_field(world, role):
    caller = Caller(world, role)
    meta = b'{"a":' * 300 + b"1" + b"}" * 300
    raw = b'[{"data": {"instruction": "i", "meta": ' + meta + b"}}]"
    before = snapshot()
    response = caller.json("post", f"{_p(caller)}/tasks/", None, raw=raw)
    assert response.status_code == (400 if role == Role.LEAD else 403)
    if role == Role.LEAD:
        assert response.json()["detail"].startswith("[0].data.meta.a")
        assert "nested deeper than 64 levels" in response.json()["detail"]
    assert snapshot() == before


DEEP_JSON = {
    "token": "/api/v1/auth/token/",
    "users": "/api/v1/users/",
    "projects": "/api/v1/projects/",
    "project": "{p}/",
    "members": "{p}/members/",
    "tasks": "{p}/tasks/",
    "submit": "/api/v1/tasks/{t}/annotations/",
    "annotations-import": "{p}/annotations/import/",
    "exports": "{p}/exports/",
    "export-tokens": "{p}/export-tokens/",
}


@pytest.mark.parametrize("role", PERSONAS)
@pytest.mark.parametrize("levels", [65, 300, 2000])
@pytest.mark.parametrize("name", list(DEEP_JSON))
def test_every_json_endpoint_refuses_deep_nesting(world, role, levels, name):
    caller = Caller(world, role)
    url = DEEP_JSON[name].format(p=_p(caller), t=world["leased"].pk)
    method = "patch" if name == "project" else "post"
    before = snapshot()
    response = caller.json(method, url, None, raw=b'{"values": ' + _deep(levels) + b"}")
    assert 400 <= response.status_code < 500
    if response.status_code == 400:
        assert "nested deeper than 64 levels" in response.json()["detail"]
    assert snapshot() == before


def test_deep_questions_in_the_project_form_and_preview_are_named(world):
    caller = Caller(world, Role.LEAD)
    deep = "[" * 5000 + "]" * 5000
    before = snapshot()
    preview = caller.web.post("/projects/preview/", {"questions_json": deep})
    assert preview.status_code == 200
    assert "nested deeper than 64 levels" in preview.content.decode().lower()
    edit = _project_form(caller, {"questions_json": deep})
    assert edit.status_code == 200
    assert "nested deeper than 64 levels" in edit.content.decode().lower()
    assert snapshot() == before


# --- integers: "²" passes str.isdigit, 5,000 digits break int() ------------------

BAD_INTS = {"superscript": "²", "endless": "9" * 5000}


INT_FORMS = {
    "label-rating": lambda c, n: _label(c, {"q-quality": n}),
    "label-strength": lambda c, n: _label(c, {"q-better-strength": n}),
    "label-ranking": lambda c, n: _label(c, {"q-order": f"{n},0"}),
    # A bad rating too, so that nothing is stored: a turn that is no number is ignored.
    "label-turn": lambda c, n: _label(c, {"q-note": "x", "q-note-turn": n, "q-quality": "0"}),
    "revise-rating": lambda c, n: _revise(c, {"q-quality": n}),
    "revise-strength": lambda c, n: _revise(c, {"q-better-strength": n}),
    "revise-ranking": lambda c, n: _revise(c, {"q-order": f"0,{n}"}),
    "resolve-rating": lambda c, n: _resolve(c, {"q-quality": n}),
    "resolve-ranking": lambda c, n: _resolve(c, {"q-order": n}),
    "resolve-strength": lambda c, n: _resolve(c, {"q-better-strength": n}),
    "preview-labels": lambda c, n: c.web.post(
        "/projects/preview/",
        {"questions_json": json.dumps([{**QUESTIONS[2], "labels": {n: "x"}}])},
    ),
    "preview-target": lambda c, n: c.web.post(
        "/projects/preview/",
        {"questions_json": json.dumps([{**QUESTIONS[2], "target": f"responses.{n}"}])},
    ),
    "preview-prefill": lambda c, n: c.web.post(
        "/projects/preview/",
        {"questions_json": json.dumps([{**QUESTIONS[0], "prefill": f"responses.{n}"}])},
    ),
    "project-overlap": lambda c, n: _project_form(c, {"overlap": n}),
    "my-answers-page": lambda c, n: c.web.get(f"/projects/{c.p}/my-answers/", {"page": n}),
    "api-tasks-page": lambda c, n: c.api.get(f"{_p(c)}/tasks/", {"page": n}),
    "api-projects-page": lambda c, n: c.api.get("/api/v1/projects/", {"page": n}),
    "api-exports-page": lambda c, n: c.api.get(f"{_p(c)}/exports/", {"page": n}),
    "api-agreement-min": lambda c, n: c.api.get(f"{_p(c)}/tasks/", {"agreement_min": n}),
    "api-is-gold": lambda c, n: c.api.get(f"{_p(c)}/tasks/", {"is_gold": n}),
    "api-submit-rating": lambda c, n: c.json(
        "post", f"/api/v1/tasks/{c.w['leased'].pk}/annotations/", {"values": {**GOOD, "quality": n}}
    ),
    "api-overlap": lambda c, n: c.json("patch", f"{_p(c)}/", {"overlap": n}),
    "api-range-start": lambda c, n: c.api.get(
        f"/api/v1/exports/{c.w['export'].pk}/download/", HTTP_RANGE=f"bytes={n}-"
    ),
    "api-range-end": lambda c, n: c.api.get(
        f"/api/v1/exports/{c.w['export'].pk}/download/", HTTP_RANGE=f"bytes=0-{n}"
    ),
    "api-range-suffix": lambda c, n: c.api.get(
        f"/api/v1/exports/{c.w['export'].pk}/download/", HTTP_RANGE=f"bytes=-{n}"
    ),
    "web-range": lambda c, n: c.web.get(
        f"/exports/{c.w['export'].pk}/download/", HTTP_RANGE=f"bytes={n}-{n}"
    ),
}


@pytest.mark.parametrize("role", PERSONAS)
@pytest.mark.parametrize("number", list(BAD_INTS.values()), ids=list(BAD_INTS))
@pytest.mark.parametrize("name", list(INT_FORMS))
def test_integers_are_parsed_strictly(world, role, number, name):
    caller = Caller(world, role)
    before = snapshot()
    response = INT_FORMS[name](caller, number)
    assert response.status_code < 500, _text(response)[:500]
    if name.startswith("api-range") or name == "web-range":
        # A range past any file is served whole or refused, as HTTP says.
        assert response.status_code in (200, 206, 403, 404, 416)
    assert snapshot() == before, "a refused request wrote rows"


def test_a_label_form_names_the_bad_integer(world):
    response = _label(Caller(world, Role.ANNOTATOR), {"q-quality": "²"})
    assert response.status_code == 200
    assert "must be an integer from 1 to 5" in response.content.decode()


def test_a_range_beyond_any_file_is_clamped_or_refused(world):
    caller = Caller(world, Role.LEAD)
    url = f"/api/v1/exports/{world['export'].pk}/download/"
    whole = caller.api.get(url, HTTP_RANGE="bytes=0-" + "9" * 5000)
    assert whole.status_code == 206
    assert b"".join(whole.streaming_content) == EXPORT_BYTES
    assert caller.api.get(url, HTTP_RANGE="bytes=" + "9" * 5000 + "-").status_code == 416
    assert caller.api.get(url, HTTP_RANGE="bytes=²-").status_code == 416
