"""Load benchmark: 50 annotators, a lead on the dashboard and exports, all at once.

    python bench/load_bench.py                   # 50 annotators for 300 s
    python bench/load_bench.py --seconds 60
    python bench/load_bench.py --seconds 60 --relaxed

It recreates a database (``quorum_bench_load``), fills a project with the
demo's real tasks (data/: the 252 user-oriented instructions and two models'
responses, repeated under new external ids up to ``--tasks``) and the demo's
questions, then starts gunicorn (``DEBUG=0``) on a free port and a real Celery
worker (prefork, as deployed). During the run:

- each annotator (a process of its own) loops ``GET projects/{id}/next-task/``
  and ``POST tasks/{id}/annotations/`` with a ``client_id`` UUID over the REST
  API with its own token. Like a flaky network, some submits are sent again
  after their reply arrived, and some lose their reply (the connection is
  dropped before it is read) and are sent again on a new connection;
- one lead, logged in through the HTML login form, reloads the agreement
  dashboard every few seconds;
- the lead creates exports over the API, waits for them and downloads them,
  checking the file's SHA-256 against the export's.

It prints the settings it ran with (gunicorn workers, Celery concurrency, the
commit durability as the app's connections see it, cores), submits/s,
p50/p99 of next-task, submit and the dashboard, the export durations, and
then proves from the database that every acknowledged submit (2xx with an
id) is stored exactly once: every acknowledged (client_id, id) pair is there,
one client_id never got two ids, nothing stored was never acknowledged,
nobody answered a task twice and no task is over its overlap. Exit status 1
if anything failed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg
from _common import (
    ROOT,
    app_env,
    cpu_reference,
    cpu_seconds_postgres,
    cpu_seconds_tree,
    database_durability,
    database_reset,
    durability_mode,
    free_port,
    migrate,
    pct,
    server_start,
    stop,
    worker_start,
)

DEFAULT_DB = "postgres://quorum:quorum@127.0.0.1:55432/quorum_bench_load"
DEFAULT_REDIS = "redis://127.0.0.1:56379/13"
LEAD_PASSWORD = "bench-lead-password"
# What the demo project asks, and its 252 real tasks (imports/demo.py).
DEMO_DUMP = (
    "import json, os; from imports.demo import QUESTIONS, demo_tasks; "
    "open(os.environ['QUORUM_BENCH_DEMO_DUMP'], 'w')"
    ".write(json.dumps({'questions': QUESTIONS, 'tasks': demo_tasks()}))"
)


def password_hash(password: str) -> str:
    """Django's PBKDF2 format, made here: the lead logs in through the real form."""
    iterations, salt = 1_000_000, secrets.token_hex(11)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def setup(url: str, n_tasks: int, n_annotators: int, env: dict, workdir: Path) -> dict:
    """Migrate; create the project, its tasks, the annotators and the lead."""
    migrate(env)
    # Pages with DEBUG=0 need the hashed static files, as in production.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    dump = workdir / "demo.json"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", DEMO_DUMP],
        cwd=ROOT,
        env={**env, "QUORUM_BENCH_DEMO_DUMP": str(dump)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    demo = json.loads(dump.read_text())
    with psycopg.connect(url, autocommit=True) as conn:
        project_id = conn.execute(
            """INSERT INTO projects_project (name, slug, description, guidelines, questions,
                 overlap, gold_fraction, lease_seconds, agreement_threshold, status,
                 skip_reasons, created_at, updated_at)
               VALUES ('Load', 'load', '', '', %s, 3, 0.0, 900, 0.5, 'active', '[]',
                 now(), now())
               RETURNING id""",
            (json.dumps(demo["questions"]),),
        ).fetchone()[0]
        t0 = time.perf_counter()
        # The real tasks again and again, each copy under its own external id.
        conn.execute(
            """INSERT INTO projects_task (project_id, external_id, data, content_hash, is_gold,
                 state, annotation_count, created_at)
               SELECT %(project)s, (r->>'external_id') || '-' || i, r->'data', md5(i::text),
                 false, 'open', 0, now()
               FROM generate_series(0, %(n)s - 1) AS i,
                 LATERAL (SELECT %(tasks)s::jsonb -> (i %% %(real)s) AS r) AS x""",
            {
                "project": project_id,
                "n": n_tasks,
                "tasks": json.dumps(demo["tasks"]),
                "real": len(demo["tasks"]),
            },
        )
        # Measure the steady state, not autovacuum's first pass or the bulk
        # insert's checkpoint (as bench/labeling_bench.py).
        conn.execute("VACUUM ANALYZE projects_task")
        conn.execute("CHECKPOINT")
        print(
            f"  {n_tasks:,} tasks ({len(demo['tasks'])} real ones repeated) "
            f"in {time.perf_counter() - t0:.1f} s"
        )

        def user(username: str, role: str, password: str = "!") -> str:
            user_id = conn.execute(
                """INSERT INTO auth_user (password, is_superuser, username, first_name,
                     last_name, email, is_staff, is_active, date_joined)
                   VALUES (%s, false, %s, '', '', '', false, true, now()) RETURNING id""",
                (password, username),
            ).fetchone()[0]
            conn.execute(
                """INSERT INTO projects_membership (project_id, user_id, role, created_at)
                   VALUES (%s, %s, %s, now())""",
                (project_id, user_id, role),
            )
            key = secrets.token_hex(20)
            conn.execute(
                "INSERT INTO authtoken_token (key, user_id, created) VALUES (%s, %s, now())",
                (key, user_id),
            )
            return key

        tokens = [user(f"load{i}", "annotator") for i in range(n_annotators)]
        lead_token = user("lead", "lead", password_hash(LEAD_PASSWORD))
    return {"project_id": project_id, "tokens": tokens, "lead_token": lead_token}


class Client:
    """One keep-alive-if-possible HTTP connection that reconnects after a failure."""

    def __init__(self, port: int, headers: dict):
        self.port, self.headers = port, headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: bytes | None = None, headers=None):
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            return None, repr(exc).encode(), None, (time.perf_counter() - t0) * 1000
        return response.status, data, response, (time.perf_counter() - t0) * 1000

    def send_and_drop(self, method: str, path: str, body: bytes) -> None:
        """Send a request and hang up before the reply: a reply lost on the way."""
        with contextlib.suppress(OSError, http.client.HTTPException):
            self.conn.request(method, path, body=body, headers=self.headers)
        self.conn.close()


def answer_for(task: dict, rng: random.Random) -> dict:
    """A plausible answer to the demo's questions: mostly agreeing, sometimes not."""
    better = rng.choices(["A", "B", "tie"], weights=[7, 2, 1])[0]
    return {
        "better": better,
        "rating_a": rng.choice([4, 4, 4, 5, 3, 2]),
        "corrected_a": task["data"]["responses"][0] + rng.choice(["", "", " (checked)"]),
    }


def annotate(port: int, project_id: int, token: str, stop_at: float, opts: dict) -> dict:
    """One simulated annotator (its own process, not a thread: threads would wait
    for one another's GIL and count that wait as latency)."""
    rng = random.Random(opts["seed"])
    client = Client(port, {"Authorization": f"Token {token}", "Content-Type": "application/json"})
    out = {
        "next_ms": [],
        "submit_ms": [],
        "retry_ms": [],
        "acks": [],
        "retried": 0,
        "lost": 0,
        # Retries after a lost reply that found the answer already stored (200):
        # the server had taken the dropped request.
        "lost_found_stored": 0,
        "errors": [],
        "error_count": 0,
    }

    def error(text: str) -> None:
        out["error_count"] += 1
        if len(out["errors"]) < 5:
            out["errors"].append(text)

    def acknowledge(client_id: str, status, data: bytes) -> int | None:
        if status is not None and 200 <= status < 300:
            stored = json.loads(data)
            out["acks"].append((client_id, stored["id"]))
            return stored["id"]
        return None

    cpu = time.process_time()
    while time.monotonic() < stop_at:
        status, data, _, ms = client.call("GET", f"/api/v1/projects/{project_id}/next-task/")
        if status == 204:
            break
        if status != 200:
            error(f"next-task {status}: {data[:200]!r}")
            time.sleep(0.5)
            continue
        out["next_ms"].append(ms)
        task = json.loads(data)
        client_id = str(uuid.uuid4())
        body = json.dumps(
            {"values": answer_for(task, rng), "client_id": client_id, "lead_time_s": 12.5}
        ).encode()
        path = f"/api/v1/tasks/{task['id']}/annotations/"
        roll = rng.random()
        if roll < opts["lost_fraction"]:
            # The reply never arrives; the client sends the same answer again.
            out["lost"] += 1
            client.send_and_drop("POST", path, body)
            first_id = None
        else:
            status, data, _, ms = client.call("POST", path, body)
            first_id = acknowledge(client_id, status, data)
            if first_id is None:
                error(f"submit {status}: {data[:200]!r}")
                continue
            out["submit_ms"].append(ms)
            if roll >= opts["lost_fraction"] + opts["retry_fraction"]:
                continue
        # A retry of the same client_id: the same annotation, never a second one.
        out["retried"] += 1
        for _attempt in range(3):
            status, data, _, ms = client.call("POST", path, body)
            if status is not None:
                break
        retry_id = acknowledge(client_id, status, data)
        if retry_id is None:
            error(f"retried submit {status}: {data[:200]!r}")
        elif first_id is not None and retry_id != first_id:
            error(f"retried submit {client_id} got {retry_id}, first {first_id}")
        else:
            out["retry_ms"].append(ms)
            out["lost_found_stored"] += first_id is None and status == 200
    out["cpu_s"] = time.process_time() - cpu
    return out


def cookies_of(response) -> dict:
    jar = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def lead_dashboard(port: int, project_id: int, stop_at: float, every: float) -> dict:
    """The lead logs in through the HTML form and reloads the dashboard page."""
    client = Client(port, {})
    out = {"dashboard_ms": [], "errors": [], "error_count": 0}
    status, data, response, _ = client.call("GET", "/login/")
    jar = cookies_of(response) if response is not None else {}
    form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', data or b"")
    if status != 200 or form_token is None or "csrftoken" not in jar:
        out["errors"].append(f"login page {status}: {data[:200]!r}")
        out["error_count"] = 1
        return out
    body = urlencode(
        {
            "username": "lead",
            "password": LEAD_PASSWORD,
            "csrfmiddlewaretoken": form_token.group(1).decode(),
        }
    ).encode()
    status, data, response, _ = client.call(
        "POST",
        "/login/",
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={jar['csrftoken']}",
        },
    )
    session = cookies_of(response).get("sessionid")
    if status != 302 or not session:
        out["errors"].append(f"login {status}: {data[:200]!r}")
        out["error_count"] = 1
        return out
    cookie = {"Cookie": f"sessionid={session}"}
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        status, data, response, ms = client.call(
            "GET", f"/projects/{project_id}/agreement/", None, cookie
        )
        if status == 200 and b"<html" in data[:500].lower():
            out["dashboard_ms"].append(ms)
        else:
            out["error_count"] += 1
            if len(out["errors"]) < 5:
                out["errors"].append(f"dashboard {status}: {data[:200]!r}")
        time.sleep(max(0.0, every - (time.monotonic() - t0)))
    return out


def lead_exports(port: int, project_id: int, token: str, starts: list[float], fmt: str) -> dict:
    """Create each export over the API at its time, wait for it, download it."""
    client = Client(port, {"Authorization": f"Token {token}", "Content-Type": "application/json"})
    out = {"exports": [], "errors": []}
    for start in starts:
        time.sleep(max(0.0, start - time.monotonic()))
        t0 = time.monotonic()
        status, data, _, _ = client.call(
            "POST", f"/api/v1/projects/{project_id}/exports/", json.dumps({"format": fmt}).encode()
        )
        if status != 202:
            out["errors"].append(f"export create {status}: {data[:200]!r}")
            continue
        export = json.loads(data)
        while export["state"] in ("queued", "running") and time.monotonic() - t0 < 900:
            time.sleep(0.25)
            status, data, _, _ = client.call("GET", f"/api/v1/exports/{export['id']}/")
            if status == 200:
                export = json.loads(data)
        ready_s = time.monotonic() - t0
        if export["state"] != "ready":
            out["errors"].append(f"export {export['id']} {export['state']}: {export['error']}")
            continue
        t1 = time.monotonic()
        status, data, response, _ = client.call("GET", export["download_url"])
        if status in (301, 302, 303, 307, 308):
            # A file store that hands out its own addresses (presigned URLs).
            target = urlsplit(response.getheader("Location"))
            other = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=300)
            other.request("GET", target.path + ("?" + target.query if target.query else ""))
            answer = other.getresponse()
            status, data = answer.status, answer.read()
        download_s = time.monotonic() - t1
        sha256 = hashlib.sha256(data).hexdigest()
        if status != 200 or sha256 != export["sha256"] or len(data) != export["bytes"]:
            out["errors"].append(
                f"export {export['id']} download {status}: {len(data)} bytes, sha256 "
                f"{sha256[:12]} (export says {export['bytes']}, {export['sha256'][:12]})"
            )
        out["exports"].append(
            {
                "id": export["id"],
                "ready_s": round(ready_s, 2),
                # From the worker's claim to the renamed file, as the export records it.
                "worker_s": round(
                    (
                        datetime.fromisoformat(export["finished_at"])
                        - datetime.fromisoformat(export["started_at"])
                    ).total_seconds(),
                    2,
                ),
                "rows": export["row_count"],
                "bytes": len(data),
                "download_s": round(download_s, 2),
            }
        )
    return out


def verify(url: str, project_id: int, acks: list[tuple[str, int]]) -> dict:
    """Every acknowledged submit is stored exactly once; no task is over its overlap."""
    by_client: dict[str, set[int]] = {}
    for client_id, annotation_id in acks:
        by_client.setdefault(client_id, set()).add(annotation_id)
    two_ids = sum(1 for ids in by_client.values() if len(ids) > 1)
    with psycopg.connect(url) as conn:
        stored = {
            annotation_id: str(client_id)
            for annotation_id, client_id in conn.execute(
                "SELECT id, client_id FROM projects_annotation WHERE project_id = %s",
                (project_id,),
            )
        }
        stored_clients: dict[str, int] = {}
        for client_id in stored.values():
            stored_clients[client_id] = stored_clients.get(client_id, 0) + 1
        twice = conn.execute(
            """SELECT count(*) FROM (SELECT task_id, annotator_id FROM projects_annotation
               WHERE project_id = %s GROUP BY 1, 2 HAVING count(*) > 1) x""",
            (project_id,),
        ).fetchone()[0]
        over = conn.execute(
            """SELECT count(*) FROM (
                 SELECT t.id FROM projects_task t
                 JOIN projects_project p ON p.id = t.project_id
                 JOIN projects_annotation a ON a.task_id = t.id
                 WHERE t.project_id = %s
                 GROUP BY t.id, t.target_overlap, p.overlap
                 HAVING count(a.id) > coalesce(t.target_overlap, p.overlap)) x""",
            (project_id,),
        ).fetchone()[0]
        mismatched = conn.execute(
            """SELECT count(*) FROM projects_task t
               WHERE t.project_id = %s AND t.annotation_count <> (
                 SELECT count(*) FROM projects_annotation a WHERE a.task_id = t.id)""",
            (project_id,),
        ).fetchone()[0]
    acked_ids = {i for ids in by_client.values() for i in ids}
    missing = sum(
        1 for client_id, ids in by_client.items() for i in ids if stored.get(i) != client_id
    )
    result = {
        "acknowledged": len(by_client),
        "acknowledged_replies": len(acks),
        "stored": len(stored),
        "acknowledged_missing": missing,
        "client_id_with_two_ids": two_ids,
        "client_id_stored_twice": sum(1 for n in stored_clients.values() if n > 1),
        "stored_never_acknowledged": len(set(stored) - acked_ids),
        "annotator_twice_on_a_task": twice,
        "tasks_over_overlap": over,
        "task_count_mismatches": mismatched,
    }
    result["ok"] = (
        missing == two_ids == result["client_id_stored_twice"] == twice == over == mismatched == 0
        and result["stored_never_acknowledged"] == 0
    )
    return result


def worker_jobs(log: Path) -> str:
    """How many jobs of each kind the worker finished, and their seconds in all."""
    done: dict[str, list[float]] = {}
    for match in re.finditer(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([\d.]+)s", log.read_text()):
        done.setdefault(match.group(1).rsplit(".", 1)[-1], []).append(float(match.group(2)))
    return ", ".join(
        f"{name} {len(times)}x, {sum(times):.0f} s in all" for name, times in sorted(done.items())
    )


def summary(values: list[float]) -> str:
    return f"p50 {pct(values, 50):.1f} ms, p99 {pct(values, 99):.1f} ms (n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument(
        "--tasks", type=int, default=60_000, help="enough that nobody runs out (overlap 3)"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--dashboard-every", type=float, default=3.0, help="seconds")
    parser.add_argument("--exports", type=int, default=2, help="exports spread over the run")
    parser.add_argument("--export-format", default="annotations")
    parser.add_argument("--retry-fraction", type=float, default=0.05)
    parser.add_argument("--lost-fraction", type=float, default=0.02)
    parser.add_argument("--relaxed", action="store_true", help="synchronous_commit=off for the app")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="quorum-load-"))
    env = app_env(
        args.database_url,
        args.redis_url,
        relaxed=args.relaxed,
        EXPORT_ROOT=str(workdir / "exports"),
        MEDIA_ROOT=str(workdir / "media"),
        STATIC_ROOT=str(workdir / "static"),
    )
    durability = database_durability(args.database_url, env)
    mode = durability_mode(durability)
    port = free_port()
    print(
        f"settings: gunicorn {args.workers} sync workers, celery prefork concurrency "
        f"{args.celery_concurrency}, durability {mode} (synchronous_commit="
        f"{durability['synchronous_commit']}, fsync={durability['fsync']}, as the app's "
        f"connections see them), {os.cpu_count()} cores, {args.annotators} annotators, "
        f"{args.seconds:g} s, lost replies {args.lost_fraction:.0%}, "
        f"retried after a reply {args.retry_fraction:.0%}"
    )
    database_reset(args.database_url)
    made = setup(args.database_url, args.tasks, args.annotators, env, workdir)
    project_id = made["project_id"]
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "annotator", "purge", "-f"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    worker = worker_start(env, workdir / "worker.log", args.celery_concurrency)
    server = server_start(env, port, args.workers)
    opts = {"retry_fraction": args.retry_fraction, "lost_fraction": args.lost_fraction}
    reference = [cpu_reference()]
    database = args.database_url.rsplit("/", 1)[1]

    def cpu_now() -> dict:
        return {
            "gunicorn": cpu_seconds_tree(server),
            "celery": cpu_seconds_tree(worker),
            "postgres": cpu_seconds_postgres(database),
        }

    cpu_before = cpu_now()
    try:
        t0 = time.monotonic()
        stop_at = t0 + args.seconds
        starts = [t0 + args.seconds * (k + 1) / (args.exports + 1) for k in range(args.exports)]
        with ProcessPoolExecutor(
            args.annotators + 2, mp_context=multiprocessing.get_context("fork")
        ) as pool:
            annotators = [
                pool.submit(annotate, port, project_id, token, stop_at, {**opts, "seed": i})
                for i, token in enumerate(made["tokens"])
            ]
            dashboard = pool.submit(lead_dashboard, port, project_id, stop_at, args.dashboard_every)
            exports = pool.submit(
                lead_exports, port, project_id, made["lead_token"], starts, args.export_format
            )
            parts = [f.result() for f in annotators]
            elapsed = time.monotonic() - t0
            cpu_after = cpu_now()
            lead = dashboard.result()
            exported = exports.result()
        reference.append(cpu_reference())
    finally:
        stop(server)
        stop(worker)

    acks = [a for p in parts for a in p["acks"]]
    check = verify(args.database_url, project_id, acks)
    errors = [e for p in (*parts, lead, exported) for e in p["errors"]]
    error_count = sum(p.get("error_count", 0) for p in (*parts, lead)) + len(exported["errors"])
    submits = check["acknowledged"]
    print(
        f"load: {submits} answers acknowledged in {elapsed:.1f} s = {submits / elapsed:.1f} "
        f"submits/s; {sum(p['retried'] for p in parts)} sent again with the same client_id "
        f"({sum(p['lost'] for p in parts)} of them after a lost reply, of which "
        f"{sum(p['lost_found_stored'] for p in parts)} found the dropped request stored); "
        "cpu reference "
        f"{reference} s"
    )
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
    cpu["annotators"] = sum(p["cpu_s"] for p in parts)
    print(
        "  CPU seconds during the run (of {:.0f} available): {}; per answer {}".format(
            elapsed * (os.cpu_count() or 1),
            ", ".join(f"{name} {spent:.0f}" for name, spent in cpu.items()),
            ", ".join(
                f"{name} {1000 * spent / max(submits, 1):.1f} ms" for name, spent in cpu.items()
            ),
        )
    )
    print(f"  worker jobs: {worker_jobs(workdir / 'worker.log')}")
    print(f"  next-task   {summary([ms for p in parts for ms in p['next_ms']])}")
    print(f"  submit      {summary([ms for p in parts for ms in p['submit_ms']])}")
    print(f"  resubmit    {summary([ms for p in parts for ms in p['retry_ms']])}")
    print(f"  dashboard   {summary(lead['dashboard_ms'])} (HTML, every {args.dashboard_every} s)")
    for item in exported["exports"]:
        print(
            f"  export {args.export_format} #{item['id']}: ready {item['ready_s']} s after "
            f"creation ({item['worker_s']} s in the worker), {item['rows']} rows, "
            f"{item['bytes'] / 1e6:.1f} MB downloaded in {item['download_s']} s, sha256 checked"
        )
    print(
        "exactly once: {acknowledged} acknowledged answers ({acknowledged_replies} 2xx "
        "replies with an id), {stored} stored; acknowledged but missing "
        "{acknowledged_missing}, a client_id with two ids {client_id_with_two_ids}, stored "
        "twice {client_id_stored_twice}, stored but never acknowledged "
        "{stored_never_acknowledged}, an annotator twice on a task "
        "{annotator_twice_on_a_task}, tasks over overlap {tasks_over_overlap}, count "
        "mismatches {task_count_mismatches}: {verdict}".format(
            verdict="ok" if check["ok"] else "FAILED", **check
        )
    )
    print(f"errors: {error_count}")
    for text in errors[:10]:
        print("  error:", text)
    ok = check["ok"] and error_count == 0 and len(exported["exports"]) == args.exports
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"worker log and files kept in {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
