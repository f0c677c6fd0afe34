"""Shared fixtures: personas, a project, API clients, the real Celery worker and
a real headless Chromium.

Tests run against the PostgreSQL and Redis that scripts/services.sh starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from projects.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

# Playwright's sync API runs an event loop in the test thread; Django's guard
# against DB calls inside a loop would then trip on ordinary test code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


# --- markers ----------------------------------------------------------------

# Marks follow the fixtures a test uses, so a test cannot forget its mark:
# ``-m "not browser and not worker"`` runs everything that needs neither
# Chromium nor a Celery worker process.
def pytest_collection_modifyitems(config, items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & {"browser", "page_as"}:
            item.add_marker(pytest.mark.browser)
        if "celery_worker" in used:
            item.add_marker(pytest.mark.worker)


# --- personas -------------------------------------------------------------


@pytest.fixture
def project(db):
    return ProjectFactory()


def _member(project, username: str, role: str):
    user = UserFactory(username=username)
    MembershipFactory(project=project, user=user, role=role)
    return user


@pytest.fixture
def lead(project):
    return _member(project, "lead", Role.LEAD)


@pytest.fixture
def reviewer(project):
    return _member(project, "reviewer", Role.REVIEWER)


@pytest.fixture
def annotator(project):
    return _member(project, "annotator", Role.ANNOTATOR)


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def api():
    """An API client factory: ``api(user)`` authenticates with the user's token."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


# --- the real Celery worker -------------------------------------------------


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def worker_process(name: str, *, env: dict, log, **popen) -> subprocess.Popen:
    """A real ``celery -A annotator worker`` (solo pool) named ``name``, logging to ``log``."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "annotator", "worker", "--pool=solo",
            "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
            "-n", f"{name}@%h",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, **popen,
    )  # fmt: skip


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real ``celery -A annotator worker`` process on the test database.

    Tests that use it need committed data: mark them
    ``@pytest.mark.django_db(transaction=True)``.
    """
    from annotator.celery import app

    app.control.purge()
    log_dir = ROOT / ".run"
    log_dir.mkdir(exist_ok=True)
    log = open(log_dir / f"test-worker-{os.getpid()}.log", "w")  # noqa: SIM115
    env = {**os.environ, "DATABASE_URL": _database_url(), "DB_CONN_MAX_AGE": "0"}
    proc = worker_process(f"test-{os.getpid()}", env=env, log=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early; see {log.name}")
        replies = app.control.ping(timeout=0.5)
        if replies:
            break
    else:
        proc.kill()
        raise RuntimeError("celery worker did not answer a ping within 60 s")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


# --- a real headless Chromium -----------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; run scripts/setup.sh")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page_as(browser, live_server, client):
    """``page_as(user)`` opens a browser page logged in as the user."""
    contexts = []

    def make(user):
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1400, "height": 900}
        )
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def page_queries(client, user, url, django_assert_num_queries, count):
    """GET ``url`` as ``user`` once to warm the session, then again counting the queries."""
    client.force_login(user)
    client.get(url)  # the session and anything cached per process are warm
    with django_assert_num_queries(count):
        response = client.get(url)
    assert response.status_code == 200
    return response
