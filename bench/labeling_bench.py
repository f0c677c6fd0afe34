"""Labeling benchmark: simulated annotators doing next-task + submit over HTTP.

    python bench/labeling_bench.py          # 10k and 1M tasks; 8 then 32 annotators; 60 s each
    python bench/labeling_bench.py --sizes 10000 --duration 20
    python bench/labeling_bench.py --sizes 10000 --annotators 8 --relaxed

For each project size it creates a fresh database (``quorum_bench_label``), a
project with that many tasks (one ``INSERT ... SELECT generate_series``),
starts gunicorn (production settings: DEBUG=0) and runs 8, then 32 annotator
processes. Each annotator loops ``GET projects/{id}/next-task/`` then
``POST tasks/{id}/annotations/`` with its own token. It prints p50/p95/p99 of
each call, annotations per second, and checks in the database that no task
got more answers or leases than the overlap allows.

Durable by default: the app commits as the server is configured
(``synchronous_commit = on`` from ``scripts/services.sh``). ``--relaxed`` turns
``synchronous_commit`` off for the app's own connections (libpq's
``PGOPTIONS``), for a comparison without restarting the shared server. The
output names the mode, read back with ``SHOW`` on a connection opened the same way.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

import psycopg
from _common import (
    app_env,
    cpu_reference,
    database_durability,
    database_reset,
    durability_mode,
    free_port,
    migrate,
    pct,
    server_start,
)

DEFAULT_DB = "postgres://quorum:quorum@127.0.0.1:55432/quorum_bench_label"
DEFAULT_REDIS = "redis://127.0.0.1:56379/12"
ANSWER = {"better": "A", "quality": 4, "topic": "writing"}
QUESTIONS = [
    {"name": "better", "type": "preference", "title": "Which response is better?"},
    {
        "name": "quality",
        "type": "rating",
        "title": "Rate response A",
        "min": 1,
        "max": 5,
        "target": "responses.0",
    },
    {"name": "topic", "type": "label", "options": ["writing", "coding", "other"]},
]


def setup(url: str, n_tasks: int, n_annotators: int, env: dict) -> tuple[int, list[str]]:
    """Migrate, then create the project, its tasks and annotators; return (project id, tokens)."""
    migrate(env)
    with psycopg.connect(url, autocommit=True) as conn:
        project_id = conn.execute(
            """INSERT INTO projects_project (name, slug, description, guidelines, questions,
                 overlap, gold_fraction, lease_seconds, agreement_threshold, status,
                 skip_reasons, created_at, updated_at)
               VALUES (%s, %s, '', '', %s, 3, 0.0, 900, 0.5, 'active', '[]', now(), now())
               RETURNING id""",
            (f"Bench {n_tasks}", f"bench-{n_tasks}", json.dumps(QUESTIONS)),
        ).fetchone()[0]
        t0 = time.perf_counter()
        conn.execute(
            """INSERT INTO projects_task (project_id, external_id, data, content_hash, is_gold,
                 state, annotation_count, created_at)
               SELECT %s, 't' || i,
                 jsonb_build_object(
                   'instruction', 'Write a short poem about the number ' || i || '.',
                   'responses', jsonb_build_array('Poem A about ' || i, 'Poem B about ' || i)),
                 md5(i::text), false, 'open', 0, now()
               FROM generate_series(1, %s) AS i""",
            (project_id, n_tasks),
        )
        # Measure the steady state: without this, autovacuum's first pass over
        # the freshly inserted table runs during the first load step.
        conn.execute("VACUUM ANALYZE projects_task")
        # And start from a finished checkpoint: writing a million new rows
        # triggers one, which would otherwise run during the first step.
        conn.execute("CHECKPOINT")
        print(f"  inserted {n_tasks:,} tasks in {time.perf_counter() - t0:.1f} s")
        tokens = []
        for i in range(n_annotators):
            user_id = conn.execute(
                """INSERT INTO auth_user (password, is_superuser, username, first_name,
                     last_name, email, is_staff, is_active, date_joined)
                   VALUES ('!', false, %s, '', '', '', false, true, now()) RETURNING id""",
                (f"bench{i}",),
            ).fetchone()[0]
            conn.execute(
                """INSERT INTO projects_membership (project_id, user_id, role, created_at)
                   VALUES (%s, %s, 'annotator', now())""",
                (project_id, user_id),
            )
            key = secrets.token_hex(20)
            conn.execute(
                "INSERT INTO authtoken_token (key, user_id, created) VALUES (%s, %s, now())",
                (key, user_id),
            )
            tokens.append(key)
    return project_id, tokens


def annotate(port: int, project_id: int, token: str, stop_at: float) -> dict:
    """One simulated annotator (its own process): next-task, submit, until ``stop_at``.

    A process each, not a thread each: threads would wait for one another's
    GIL and add that wait to the latencies they measure.
    """
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    result = {"lease_ms": [], "submit_ms": [], "submitted": 0, "errors": []}
    cpu = time.process_time()

    def call(method: str, path: str, body: bytes | None = None):
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, data, (time.perf_counter() - t0) * 1000

    while time.monotonic() < stop_at:
        status, data, ms = call("GET", f"/api/v1/projects/{project_id}/next-task/")
        result["lease_ms"].append(ms)
        if status == 204:
            break
        if status != 200:
            result["errors"].append(f"next-task {status}: {data[:200]!r}")
            break
        task = json.loads(data)
        body = json.dumps(
            {"values": ANSWER, "client_id": str(uuid.uuid4()), "lead_time_s": 3.0}
        ).encode()
        status, data, ms = call("POST", f"/api/v1/tasks/{task['id']}/annotations/", body)
        result["submit_ms"].append(ms)
        if status != 201:
            result["errors"].append(f"submit {status}: {data[:200]!r}")
            break
        result["submitted"] += 1
    result["cpu_s"] = time.process_time() - cpu
    return result


def cpu_seconds(server: subprocess.Popen) -> dict:
    """CPU seconds used so far by the gunicorn processes and by PostgreSQL's."""
    import psutil

    def used(proc) -> float:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    master = psutil.Process(server.pid)
    postgres = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
    return {
        "server": used(master) + sum(used(c) for c in master.children(recursive=True)),
        "postgres": sum(used(p) for p in postgres),
    }


def run_load(
    port: int, project_id: int, tokens: list[str], duration: float, server: subprocess.Popen
) -> dict:
    before = cpu_seconds(server)
    t0 = time.monotonic()
    stop_at = t0 + duration
    with ProcessPoolExecutor(len(tokens), mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(annotate, port, project_id, token, stop_at) for token in tokens]
        parts = [f.result() for f in futures]
    elapsed = time.monotonic() - t0
    after = cpu_seconds(server)
    lease = [ms for p in parts for ms in p["lease_ms"]]
    submit = [ms for p in parts for ms in p["submit_ms"]]
    errors = [e for p in parts for e in p["errors"]]
    submitted = sum(p["submitted"] for p in parts)
    return {
        "annotators": len(tokens),
        "elapsed_s": round(elapsed, 1),
        "annotations": submitted,
        "annotations_per_s": round(submitted / elapsed, 1),
        "next_task_ms": {p: round(pct(lease, p), 1) for p in (50, 95, 99)},
        "submit_ms": {p: round(pct(submit, p), 1) for p in (50, 95, 99)},
        "next_task_mean_ms": round(statistics.fmean(lease), 1) if lease else None,
        "errors": errors[:5],
        # Where the two cores went, per stored annotation (one next-task + one submit).
        "cpu_ms_per_annotation": {
            part: round(1000 * spent / max(submitted, 1), 2)
            for part, spent in (
                ("server", after["server"] - before["server"]),
                ("postgres", after["postgres"] - before["postgres"]),
                ("annotators", sum(p["cpu_s"] for p in parts)),
            )
        },
    }


def verify(url: str, project_id: int) -> dict:
    """No task over its overlap, counts consistent, nobody twice on a task."""
    with psycopg.connect(url) as conn:
        over = conn.execute(
            """SELECT count(*) FROM (
                 SELECT t.id FROM projects_task t
                 JOIN projects_project p ON p.id = t.project_id
                 LEFT JOIN projects_annotation a ON a.task_id = t.id
                 WHERE t.project_id = %s
                 GROUP BY t.id, p.overlap HAVING count(a.id) > p.overlap) x""",
            (project_id,),
        ).fetchone()[0]
        over_leased = conn.execute(
            """SELECT count(*) FROM (
                 SELECT t.id FROM projects_task t
                 JOIN projects_project p ON p.id = t.project_id
                 JOIN projects_assignment s ON s.task_id = t.id
                 WHERE t.project_id = %s
                   AND (s.state = 'submitted' OR (s.state = 'leased' AND s.expires_at > now()))
                 GROUP BY t.id, p.overlap HAVING count(*) > p.overlap) x""",
            (project_id,),
        ).fetchone()[0]
        mismatched = conn.execute(
            """SELECT count(*) FROM projects_task t
               WHERE t.project_id = %s AND t.annotation_count <> (
                 SELECT count(*) FROM projects_annotation a WHERE a.task_id = t.id)
                 AND t.annotation_count > 0""",
            (project_id,),
        ).fetchone()[0]
        twice = conn.execute(
            """SELECT count(*) FROM (SELECT task_id, annotator_id FROM projects_annotation
               WHERE project_id = %s GROUP BY 1, 2 HAVING count(*) > 1) x""",
            (project_id,),
        ).fetchone()[0]
    return {
        "tasks_over_overlap": over,
        "tasks_over_leased": over_leased,
        "count_mismatches": mismatched,
        "annotator_twice": twice,
        "ok": over == over_leased == mismatched == twice == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--annotators", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument(
        "--relaxed",
        action="store_true",
        help="the app under test commits with synchronous_commit=off (its own connections "
        "only; the server is not restarted). Default: as the server is configured (durable)",
    )
    args = parser.parse_args()

    env = app_env(args.database_url, args.redis_url, relaxed=args.relaxed)
    port = args.port or free_port()
    # Read on a connection opened as the app's are (PGOPTIONS included).
    durability = database_durability(args.database_url, env)
    mode = durability_mode(durability)
    print(
        "durability: {mode} (synchronous_commit={synchronous_commit} fsync={fsync}, "
        "as the app's connections see them)".format(mode=mode, **durability)
    )
    results = []
    ok = True
    for size in args.sizes:
        print(f"== {size:,} tasks")
        database_reset(args.database_url)
        project_id, tokens = setup(args.database_url, size, max(args.annotators), env)
        server = server_start(env, port, args.workers)
        try:
            for n in args.annotators:
                reference = cpu_reference()
                result = run_load(port, project_id, tokens[:n], args.duration, server)
                result["tasks"] = size
                result["durability"] = {"mode": mode, **durability}
                result["cpu_reference_s"] = [reference, cpu_reference()]
                check = verify(args.database_url, project_id)
                result["verify"] = check
                ok = ok and check["ok"] and not result["errors"]
                results.append(result)
                print(
                    f"  {mode} {n:>3} annotators: {result['annotations_per_s']:>7} annotations/s "
                    f"({result['annotations']} in {result['elapsed_s']} s)  "
                    f"next-task p50/p95/p99 {result['next_task_ms'][50]}/"
                    f"{result['next_task_ms'][95]}/{result['next_task_ms'][99]} ms  "
                    f"submit p50/p95/p99 {result['submit_ms'][50]}/{result['submit_ms'][95]}/"
                    f"{result['submit_ms'][99]} ms  verify {'ok' if check['ok'] else check}  "
                    f"cpu reference {result['cpu_reference_s']} s"
                )
                print(f"       CPU ms per annotation {result['cpu_ms_per_annotation']}")
                for error in result["errors"]:
                    print("   error:", error)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    print(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
