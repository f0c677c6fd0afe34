"""What the HTTP benchmarks share: a fresh database, gunicorn and a Celery
worker started as subprocesses, the server's commit durability, percentiles."""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# libpq reads PGOPTIONS for every connection it opens, Django's included: the
# app under test commits without waiting for the disk, while the shared
# server (and everyone else on it) stays as configured.
RELAXED_PGOPTIONS = "-c synchronous_commit=off"


def app_env(database_url: str, redis_url: str, *, relaxed: bool = False, **extra: str) -> dict:
    """The environment of the app under test: production settings on plain http.

    ``relaxed`` turns synchronous_commit off for the app's own connections only.
    """
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_hex(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DB_CONN_MAX_AGE": "600",
        # Plain http on the loopback: no redirect to https, cookies over http.
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        **extra,
    }
    if relaxed:
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {RELAXED_PGOPTIONS}".strip()
    return env


def database_reset(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def migrate(env: dict) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def database_durability(url: str, env: dict | None = None) -> dict:
    """``synchronous_commit`` and ``fsync`` as a connection of the app under test
    sees them (with ``env``'s PGOPTIONS): results with commits relaxed are not
    comparable with durable ones."""
    options = (env or {}).get("PGOPTIONS", "")
    # The server's maintenance database: the benchmark's may not exist yet, and
    # a freshly created one has no settings of its own.
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True, options=options) as conn:
        return {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("synchronous_commit", "fsync")
        }


def durability_mode(durability: dict) -> str:
    relaxed = durability["synchronous_commit"] == "off" or durability["fsync"] == "off"
    return "relaxed" if relaxed else "durable"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_start(env: dict, port: int, workers: int) -> subprocess.Popen:
    """gunicorn (sync workers) on the loopback; returns once it answers."""
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "annotator.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            # Any answer will do (401 without a token): the server is up.
            conn.request("GET", "/api/v1/projects/0/next-task/")
            conn.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def worker_start(env: dict, log_path: Path, concurrency: int) -> subprocess.Popen:
    """A real ``celery -A annotator worker`` (prefork, as deployed); returns once
    it logs that it is ready."""
    log = open(log_path, "w")  # noqa: SIM115 (the worker writes to it until stopped)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "annotator", "worker", "--loglevel=INFO",
         f"--concurrency={concurrency}", "--without-gossip", "--without-mingle",
         "-n", f"bench-{time.monotonic_ns()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the celery worker exited early; see {log_path}")
        if " ready." in log_path.read_text(errors="replace"):
            return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the celery worker was not ready within 60 s; see {log_path}")


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_reference() -> float:
    """Seconds for a fixed pure-Python loop: how fast this machine runs right now.

    Shared machines change speed from one minute to the next; printing this
    beside each step shows whether a slow step was the code or the machine.
    """
    t0 = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i * i
    return round(time.perf_counter() - t0, 3)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds_tree(proc: subprocess.Popen) -> float:
    """CPU seconds used so far by a process and its children (gunicorn, Celery)."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(proc.pid)
        for each in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = each.cpu_times()
                total += times.user + times.system
    except psutil.Error:
        pass
    return total


def cpu_seconds_postgres(database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to ``database``
    (not the other databases of a shared server; backends that already exited
    are not counted)."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "postgres" and f" {database} " in f"{cmdline} ":
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
    return total
