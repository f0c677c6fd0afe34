"""Hardening: CSP without inline script, throttled logins, usernames, token expiry,
size limits, and clean-up of files nobody needs."""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from exports.cleanup import partial_files_cleanup
from imports.cleanup import uploads_cleanup
from imports.models import ImportJob
from tests.factories import ProjectFactory, TaskFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _unique_ip() -> str:
    # Each test counts under its own address: the cache outlives a test.
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


@pytest.mark.django_db
def test_pages_carry_a_csp_that_allows_no_inline_script(client, annotator, project):
    client.force_login(annotator)
    response = client.get(f"/projects/{project.pk}/label/")
    policy = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1)
    assert script_src.strip() == "'self'"
    assert "frame-ancestors 'none'" in policy
    assert "img-src 'self' data:" in policy


def test_templates_have_no_inline_script_or_handler():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script\b([^>]*)>", text):
            if "src=" not in match.group(1):
                offenders.append(f"{path.name}: inline <script>")
        if re.search(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", text):
            offenders.append(f"{path.name}: inline event handler")
    assert offenders == []


@pytest.mark.django_db
def test_login_form_refuses_after_too_many_failures(client, settings):
    settings.LOGIN_FAILURES_PER_MINUTE = 3
    user = UserFactory(username=f"guess{uuid.uuid4().hex[:8]}")
    ip = _unique_ip()
    for _ in range(3):
        bad = client.post(
            "/login/", {"username": user.username, "password": "nope"}, REMOTE_ADDR=ip
        )
        assert bad.status_code == 200
    # Even the right password is not checked now.
    blocked = client.post(
        "/login/", {"username": user.username, "password": "pass-word-123"}, REMOTE_ADDR=ip
    )
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.content.decode()
    # Another address is refused too: the username counts on its own.
    other = client.post(
        "/login/",
        {"username": user.username, "password": "pass-word-123"},
        REMOTE_ADDR=_unique_ip(),
    )
    assert other.status_code == 429
    # A different user from a fresh address logs in.
    fine = UserFactory(username=f"fine{uuid.uuid4().hex[:8]}")
    body = {"username": fine.username, "password": "pass-word-123"}
    ok = client.post("/login/", body, REMOTE_ADDR=_unique_ip())
    assert ok.status_code == 302


@pytest.mark.django_db
def test_token_endpoint_is_throttled(api, settings):
    settings.AUTH_THROTTLE_RATE = "3/min"
    user = UserFactory(username=f"tok{uuid.uuid4().hex[:8]}")
    ip = _unique_ip()
    body = {"username": user.username, "password": "wrong"}
    codes = [api().post("/api/v1/auth/token/", body, REMOTE_ADDR=ip).status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    assert "throttled" in api().post("/api/v1/auth/token/", body, REMOTE_ADDR=ip).json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["has space", "semi;colon", "slash/name", "<b>"])
def test_user_create_refuses_usernames_django_refuses(api, staff, username):
    response = api(staff).post(
        "/api/v1/users/", {"username": username, "password": "a-long-pass-phrase"}, format="json"
    )
    assert response.status_code == 400
    assert "username" in response.json()


@pytest.mark.django_db
def test_user_create_accepts_a_valid_username(api, staff):
    response = api(staff).post(
        "/api/v1/users/", {"username": "ann.o-1@x", "password": "a-long-pass-phrase"}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.django_db
def test_expired_token_is_refused_and_a_new_one_issued(api, settings, annotator, project):
    settings.API_TOKEN_TTL_DAYS = 30
    token, _ = Token.objects.get_or_create(user=annotator)
    url = f"/api/v1/projects/{project.pk}/"
    assert api(annotator).get(url).status_code == 200
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=31))
    refused = api(annotator).get(url)
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    fresh = api().post(
        "/api/v1/auth/token/",
        {"username": annotator.username, "password": "pass-word-123"},
        REMOTE_ADDR=_unique_ip(),
    )
    assert fresh.status_code == 200
    assert fresh.json()["token"] != token.key
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {fresh.json()['token']}")
    assert client.get(url).status_code == 200
    # Off (the default): old tokens keep working.
    settings.API_TOKEN_TTL_DAYS = 0
    Token.objects.filter(user=annotator).update(created=timezone.now() - timedelta(days=999))
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_text_answer_longer_than_the_limit_is_refused(api, settings, annotator):
    settings.MAX_ANSWER_CHARS = 10
    project = ProjectFactory(questions=[{"name": "fix", "type": "text"}])
    from projects.models import Membership, Role

    Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
    task = TaskFactory(project=project)
    url = f"/api/v1/tasks/{task.pk}/annotations/"
    long = api(annotator).post(url, {"values": {"fix": "x" * 11}}, format="json")
    assert long.status_code == 400
    assert "at most 10 characters" in str(long.json())
    assert api(annotator).post(url, {"values": {"fix": "x" * 10}}, format="json").status_code == 201


@pytest.mark.django_db
def test_task_larger_than_the_limit_is_refused_by_name(api, settings, lead, project):
    settings.MAX_TASK_BYTES = 200
    tasks = [
        {"external_id": "small", "data": {"instruction": "hi"}},
        {"external_id": "big", "data": {"instruction": "x" * 300}},
    ]
    url = f"/api/v1/projects/{project.pk}/tasks/"
    response = api(lead).post(url, tasks, format="json")
    assert response.status_code == 400
    body = str(response.json())
    assert "tasks[1]" in body
    assert "MAX_TASK_BYTES" in body
    assert not project.tasks.exists()


@pytest.mark.django_db
def test_cleanup_removes_finished_uploads_and_stale_parts(settings, tmp_path, project):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORT_ROOT = tmp_path / "exports"
    folder = settings.MEDIA_ROOT / "imports"
    folder.mkdir(parents=True)
    files = {name: folder / f"{name}.jsonl" for name in ("done", "failed", "running", "orphan")}
    for path in files.values():
        path.write_text("{}\n")
    for name, state in [("done", "done"), ("failed", "failed"), ("running", "running")]:
        ImportJob.objects.create(
            project=project, file_path=str(files[name]), filename=name, state=state
        )
    young_orphan = folder / "young.jsonl"
    young_orphan.write_text("{}\n")
    old = time.time() - 7200
    os.utime(files["orphan"], (old, old))

    removed = {p.name for p in uploads_cleanup(orphan_after=timedelta(hours=1))}
    assert removed == {"done.jsonl", "failed.jsonl", "orphan.jsonl"}
    assert files["running"].exists()
    assert young_orphan.exists()

    parts = settings.EXPORT_ROOT / "1"
    parts.mkdir(parents=True)
    stale = parts / "export-1-abc.jsonl.part-12-ab12"
    live = parts / "export-2-def.jsonl.part-13-cd34"
    final = parts / "export-3-ghi.jsonl"
    for path in (stale, live, final):
        path.write_text("x")
    os.utime(stale, (old, old))
    os.utime(final, (old, old))
    assert partial_files_cleanup(stale_after=timedelta(hours=1)) == [stale]
    assert live.exists()
    assert final.exists()


@pytest.mark.django_db
def test_cleanup_command_reports_what_it_removed(settings, tmp_path, capsys):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORT_ROOT = tmp_path / "exports"
    (tmp_path / "exports" / "4").mkdir(parents=True)
    part = tmp_path / "exports" / "4" / "export-9-x.jsonl.part-1-aa"
    part.write_text("x")
    old = time.time() - 3 * 86400
    os.utime(part, (old, old))
    call_command("cleanup_files")
    assert "removed 0 uploaded import files, 1 partial export files" in capsys.readouterr().out
    assert not part.exists()


@pytest.mark.django_db
def test_behind_a_proxy_login_failures_count_per_client_not_per_proxy(client, settings):
    settings.LOGIN_FAILURES_PER_MINUTE = 2
    settings.NUM_PROXIES = 1
    proxy = _unique_ip()
    guesser, colleague = _unique_ip(), _unique_ip()
    for _ in range(2):
        body = {"username": f"nobody{uuid.uuid4().hex[:8]}", "password": "nope"}
        client.post("/login/", body, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=guesser)
    body = {"username": f"nobody{uuid.uuid4().hex[:8]}", "password": "nope"}
    refused = client.post("/login/", body, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=guesser)
    assert refused.status_code == 429
    # Someone else behind the same proxy still gets to try; a forged first entry
    # of X-Forwarded-For does not pick the counter either.
    user = UserFactory(username=f"ok{uuid.uuid4().hex[:8]}")
    body = {"username": user.username, "password": "pass-word-123"}
    forwarded = f"{guesser}, {colleague}"
    ok = client.post("/login/", body, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded)
    assert ok.status_code == 302
