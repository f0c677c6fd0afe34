"""Jobs that survive a dead worker and a lost Redis; labeling that goes on without Redis.

Each test runs its own redis-server on a free port (the shared one is never
touched) and real Celery workers on it, started as their own process groups
so that SIGKILL takes the whole worker. The recovery bounds are shortened to
seconds through the settings the worker reads from its environment.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from agreement.models import AgreementSnapshot
from annotator.celery import app
from exports.models import Export
from exports.services import export_path
from imports.models import ImportJob
from projects.models import Annotation, Task
from projects.sql import TASK_STORE_LOCK_CLASS
from tests.conftest import _database_url, wait_for, worker_process
from tests.factories import TaskFactory, UserFactory
from web import jobs
from web.sweeper import sweep_all

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = {"better": "A", "quality": 4, "topic": "writing"}
FAST = {
    "JOB_HEARTBEAT_SECONDS": "1",
    "JOB_STALE_SECONDS": "3",
    "JOB_SWEEP_SECONDS": "1",
    "JOB_RESEND_SECONDS": "2",
    "JOB_MAX_ATTEMPTS": "3",
    "AGREEMENT_DEBOUNCE_SECONDS": "1",
    "AGREEMENT_CATCHUP_AFTER_SECONDS": "1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, without persistence: a restart loses
    every queued message, as an unconfigured production Redis would."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture
def private_redis(settings):
    """A private Redis; this process's cache and Celery broker point at it."""
    # Read before the settings change: Celery loads its configuration lazily.
    before = app.conf.broker_url
    server = PrivateRedis()
    server.start()
    settings.REDIS_URL = server.url
    settings.CELERY_BROKER_URL = server.url
    settings.CACHES = {
        "default": {"BACKEND": "web.cache.SharedClientRedisCache", "LOCATION": server.url}
    }
    for name, value in FAST.items():
        setattr(settings, name, int(value))
    _point_celery_at(server.url)
    yield server
    _point_celery_at(before)
    server.stop()


def _point_celery_at(url: str) -> None:
    app.conf.broker_url = url
    # kombu keeps pools in a registry by URL: drop the references, never close
    # a pool that the registry would hand out again.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def workers(private_redis, tmp_path):
    """``start()`` starts a real worker on the private Redis; all are killed at the end."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            **FAST,
            "DATABASE_URL": _database_url(),
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": private_redis.url,
            "CELERY_BROKER_URL": private_redis.url,
            "EXPORT_ROOT": str(tmp_path / "exports"),
        }
        log = open(tmp_path / f"worker-{len(started)}.log", "w")  # noqa: SIM115
        proc = worker_process(
            f"survive-{uuid.uuid4().hex[:8]}", env=env, log=log, start_new_session=True
        )
        started.append(proc)
        wait_for(lambda: proc.poll() is None and app.control.ping(timeout=0.5), timeout=40)
        return proc

    yield start
    for proc in started:
        kill_whole(proc)


def kill_whole(proc: subprocess.Popen) -> None:
    """SIGKILL the worker's whole process group: no shutdown handler runs."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _holding(sql: str, params=()) -> psycopg.Connection:
    """A connection of the test's own that holds a lock until it is closed."""
    conn = psycopg.connect(_database_url())
    conn.execute(sql, params)
    return conn


def _jsonl(path: Path, count: int) -> Path:
    with open(path, "w") as fh:
        for n in range(count):
            fh.write(json.dumps({"id": f"r{n}", "instruction": f"Say {n}.", "output": "ok"}) + "\n")
    return path


def _upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


# --- a whole worker killed -----------------------------------------------------


def test_worker_killed_mid_import_is_detected_and_the_import_rerun_once(
    workers, project, lead, api, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    first = workers()
    # The test holds the project's import lock: the import is claimed and
    # running, beating, but stuck before its first row, when the worker dies.
    lock = _holding("SELECT pg_advisory_lock(%s, %s)", (TASK_STORE_LOCK_CLASS, project.pk))
    try:
        body = (
            api(lead)
            .post(
                f"/api/v1/projects/{project.pk}/imports/",
                {"file": _upload(_jsonl(tmp_path / "tasks.jsonl", 500))},
                format="multipart",
            )
            .json()
        )
        job = wait_for(lambda: ImportJob.objects.filter(pk=body["id"], state="running").first())
        wait_for(lambda: ImportJob.objects.get(pk=job.pk).heartbeat_at > job.heartbeat_at)
        kill_whole(first)
        killed_at = time.monotonic()
    finally:
        lock.close()
    workers()
    job = wait_for(
        lambda: ImportJob.objects.filter(pk=job.pk, state__in=["done", "failed"]).first(),
        timeout=30,
    )
    recovered_in = time.monotonic() - killed_at
    assert job.state == "done", job.message
    assert job.attempts == 2
    assert job.created_count == 500
    assert Task.objects.filter(project=project).count() == 500
    # stale (3 s) + one sweep (1 s) + the run itself
    assert recovered_in < 15, recovered_in


def test_worker_killed_mid_export_is_rerun_and_never_serves_the_partial_file(
    workers, text_project_with_answers, lead, api, settings, tmp_path
):
    project = text_project_with_answers
    settings.EXPORT_ROOT = tmp_path / "exports"
    first = workers()
    # Holding the task table stops the export at its first query, after its
    # .part file was opened.
    lock = psycopg.connect(_database_url())
    lock.execute(f"LOCK TABLE {Task._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    try:
        response = api(lead).post(
            f"/api/v1/projects/{project.pk}/exports/", {"format": "annotations"}, format="json"
        )
        assert response.status_code == 202
        export = wait_for(
            lambda: Export.objects.filter(pk=response.json()["id"], state="running").first()
        )
        final = export_path(export)
        wait_for(lambda: list(final.parent.glob(f"{final.name}.part-*")))
        kill_whole(first)
        assert api(lead).get(f"/api/v1/exports/{export.pk}/download/").status_code == 409
    finally:
        lock.close()
    assert not final.exists()
    workers()
    export = wait_for(
        lambda: Export.objects.filter(pk=export.pk, state__in=["ready", "failed"]).first(),
        timeout=30,
    )
    assert export.state == "ready", export.error
    assert export.attempts == 2
    assert not list(final.parent.glob(f"{final.name}.part-*"))
    data = final.read_bytes()
    assert data.count(b"\n") == export.row_count == 6
    assert hashlib.sha256(data).hexdigest() == export.sha256


@pytest.fixture
def text_project_with_answers(project, annotator):
    second = UserFactory(username="second")
    for _ in range(3):
        task = TaskFactory(project=project)
        for user in (annotator, second):
            Annotation.objects.create(project=project, task=task, annotator=user, values=ANSWER)
    return project


def test_a_job_whose_worker_keeps_dying_fails_with_a_clear_message(project, settings):
    settings.JOB_STALE_SECONDS = 60
    settings.JOB_MAX_ATTEMPTS = 3
    long_ago = timezone.now() - timedelta(minutes=5)
    job = ImportJob.objects.create(
        project=project,
        file_path="/nowhere.jsonl",
        filename="x.jsonl",
        state="running",
        attempts=3,
        heartbeat_at=long_ago,
        started_at=long_ago,
    )
    beating = ImportJob.objects.create(
        project=project,
        file_path="/nowhere.jsonl",
        filename="y.jsonl",
        state="running",
        attempts=3,
        heartbeat_at=timezone.now(),
        started_at=long_ago,
    )
    results = sweep_all()
    assert results["imports.sweep.sweep_imports"]["failed"] == 1
    job.refresh_from_db()
    assert job.state == "failed"
    assert "stopped (killed or crashed) 3 times" in job.message
    assert job.finished_at is not None
    beating.refresh_from_db()
    assert beating.state == "running"


def test_a_message_delivered_twice_runs_the_job_once(project):
    job = ImportJob.objects.create(project=project, file_path="/nowhere", filename="x.jsonl")
    assert jobs.claim(ImportJob, job.pk)
    assert not jobs.claim(ImportJob, job.pk)  # running, and its worker is beating
    job.refresh_from_db()
    assert (job.state, job.attempts) == ("running", 1)


def test_the_sweep_command_runs_every_sweep(project):
    out = io.StringIO()
    call_command("sweep_jobs", stdout=out)
    text = out.getvalue()
    for name in ("sweep_imports", "sweep_exports", "sweep_agreement"):
        assert name in text


# --- Redis down --------------------------------------------------------------------


def test_with_redis_down_labeling_goes_on_and_jobs_wait_then_run(
    workers, private_redis, project, lead, annotator, api, page_as, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORT_ROOT = tmp_path / "exports"
    tasks = [TaskFactory(project=project) for _ in range(3)]
    workers()
    private_redis.stop()

    # The API: lease and submit.
    client = api(annotator)
    started = time.monotonic()
    leased = client.get(f"/api/v1/projects/{project.pk}/next-task/")
    assert leased.status_code == 200, leased.content
    task_id = leased.json()["id"]
    submit = client.post(
        f"/api/v1/tasks/{task_id}/annotations/",
        {"values": ANSWER, "client_id": str(uuid.uuid4())},
        format="json",
    )
    assert submit.status_code == 201, submit.content
    assert time.monotonic() - started < 5

    # The page: it loads and its HTMX submit stores the answer and moves on.
    page = page_as(annotator)
    errors = []
    page.on("response", lambda r: r.status >= 500 and errors.append(r.url))
    page.goto(f"/projects/{project.pk}/label/")
    shown = int(page.locator("#workspace").get_attribute("data-task"))
    page.keyboard.press("a")
    page.keyboard.press("j")
    page.keyboard.press("5")
    page.keyboard.press("3")
    page.locator("#label-form button[type=submit]").click()
    page.wait_for_function(
        "old => { const w = document.getElementById('workspace');"
        " return w && w.dataset.task !== String(old); }",
        arg=shown,
    )
    assert errors == []
    assert Annotation.objects.filter(project=project, annotator=annotator).count() == 2
    assert {tasks[0].pk, tasks[1].pk, tasks[2].pk} >= {task_id, shown}

    # Jobs created meanwhile wait in the database.
    lead_api = api(lead)
    imported = lead_api.post(
        f"/api/v1/projects/{project.pk}/imports/",
        {"file": _upload(_jsonl(tmp_path / "more.jsonl", 20))},
        format="multipart",
    )
    assert imported.status_code == 202, imported.content
    exported = lead_api.post(
        f"/api/v1/projects/{project.pk}/exports/", {"format": "annotations"}, format="json"
    )
    assert exported.status_code == 202, exported.content
    job = ImportJob.objects.get(pk=imported.json()["id"])
    export = Export.objects.get(pk=exported.json()["id"])
    assert (job.state, job.sent_at) == ("queued", None)
    assert (export.state, export.sent_at) == ("queued", None)
    assert not AgreementSnapshot.objects.filter(project=project).exists()

    # Redis comes back empty: the worker's sweeper sends the jobs again and
    # queues the agreement recomputation the outage missed.
    private_redis.start()
    job = wait_for(
        lambda: ImportJob.objects.filter(pk=job.pk, state__in=["done", "failed"]).first(),
        timeout=40,
    )
    assert job.state == "done", job.message
    assert job.created_count == 20
    export = wait_for(
        lambda: Export.objects.filter(pk=export.pk, state__in=["ready", "failed"]).first(),
        timeout=20,
    )
    assert export.state == "ready", export.error
    wait_for(lambda: AgreementSnapshot.objects.filter(project=project).exists(), timeout=20)
