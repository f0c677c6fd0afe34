"""Export benchmark: 100,000 and 1,000,000 annotations exported as `annotations`
and as `sft`, each by a fresh worker process; prints rows/s and peak memory.

    .venv/bin/python bench/export_bench.py            # builds quorum_bench_export, then runs
    .venv/bin/python bench/export_bench.py --sizes 100000

The data lives in its own database (quorum_bench_export, rebuilt every run with
INSERT … SELECT generate_series on the server); the worker is a separate
process that runs the same service the Celery task runs, and its peak resident
memory is sampled with psutil.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "quorum_bench_export"
ANNOTATORS = 50
QUESTIONS = [
    {"name": "answer", "type": "text", "title": "Correct the response", "prefill": "responses.0"},
    {"name": "better", "type": "preference", "title": "Which is better?"},
    {"name": "quality", "type": "rating", "title": "Rate A", "min": 1, "max": 5},
]


def bench_url(base: str) -> str:
    parts = urlparse(base)
    return urlunparse(parts._replace(path=f"/{DB_NAME}"))


def build_database(url: str, sizes: list[int]) -> dict[int, int]:
    """Create the database, migrate it and fill one project per size; return size → project id."""
    import psycopg

    admin = urlparse(url)._replace(path="/postgres")
    with psycopg.connect(urlunparse(admin), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    projects = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " SELECT '!', false, 'bench' || g, '', '', '', false, true, now()"
            " FROM generate_series(1, %s) g",
            [ANNOTATORS],
        )
        users = [r[0] for r in conn.execute("SELECT id FROM auth_user ORDER BY id")]
        for size in sizes:
            tasks = size // 3
            t0 = time.perf_counter()
            pid = conn.execute(
                "INSERT INTO projects_project (name, slug, description, guidelines, questions,"
                " overlap, gold_fraction, lease_seconds, agreement_threshold, status, skip_reasons,"
                " created_at, updated_at)"
                " VALUES (%s, %s, '', '', %s, 3, 0, 900, 0.5, 'active', '[]', now(), now())"
                " RETURNING id",
                [f"bench {size}", f"bench-{size}", json.dumps(QUESTIONS)],
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO projects_task (project_id, external_id, data, content_hash, is_gold,"
                " state, annotation_count, created_at)"
                " SELECT %s, 'b' || g, jsonb_build_object("
                "  'instruction', 'Rewrite the following paragraph so that a ten-year-old understands it (' || g || ').',"  # noqa: E501
                "  'input', repeat('The mitochondria is the powerhouse of the cell. ', 3),"
                "  'responses', jsonb_build_array('A plain rewrite number ' || g || '.', 'A worse rewrite ' || g || '.'),"  # noqa: E501
                "  'reference', 'Reference rewrite ' || g || '.'),"
                " md5(%s || ':' || g), (g %% 50 = 0), 'complete', 3, now()"
                " FROM generate_series(1, %s) g",
                [pid, str(pid), tasks],
            )
            conn.execute(
                "INSERT INTO projects_taskagreement (task_id, agreement, consensus)"
                " SELECT t.id, (t.id %% 100) / 100.0,"
                " jsonb_build_object('answer', 'Cells have tiny engines, rewrite ' || t.id || '.',"
                "  'better', 'A', 'quality', 4, '_ties', '[]'::jsonb)"
                " FROM projects_task t WHERE t.project_id = %s",
                [pid],
            )
            conn.execute(
                "INSERT INTO projects_annotation (project_id, task_id, annotator_id, values,"
                " client_id, lead_time_s, source, review_state, review_comment, created_at,"
                " updated_at)"
                " SELECT %s, t.id, (%s::int[])[1 + ((t.id + k) %% %s)],"
                " jsonb_build_object('answer', 'Cells have tiny engines, rewrite ' || t.id || '.',"
                "  'better', CASE WHEN k = 2 THEN 'B' ELSE 'A' END, 'quality', 3 + k %% 2),"
                " gen_random_uuid(), 10 + k, 'ui', CASE WHEN k = 0 THEN 'accepted' ELSE 'pending' END,"  # noqa: E501
                " '', now(), now()"
                " FROM projects_task t CROSS JOIN generate_series(0, 2) k WHERE t.project_id = %s",
                [pid, users, ANNOTATORS, pid],
            )
            # The agreement is already computed (above): a snapshot newer than every
            # answer, so the export's freshness check finds nothing to recompute.
            conn.execute(
                "INSERT INTO projects_agreementsnapshot (project_id, computed_at, duration_s,"
                " data) VALUES (%s, now() + interval '1 hour', 0, '{}')",
                [pid],
            )
            conn.execute("ANALYZE")
            print(
                f"built project {pid}: {tasks * 3:,} annotations"
                f" in {time.perf_counter() - t0:.1f} s"
            )
            projects[size] = pid
    return projects


def run_one(url: str, project_id: int, fmt: str) -> dict:
    """Run one export in a fresh worker process; sample its memory from here."""
    import psutil

    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "annotator.settings"}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", str(project_id), fmt],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    handle = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, handle.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    out = proc.stdout.read()
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb_sampled"] = round(peak / 2**20, 1)
    return result


def worker(project_id: int, fmt: str) -> None:
    import resource

    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from exports.models import Export
    from exports.services import export_filters_clean, export_run
    from projects.models import Project

    project = Project.objects.get(pk=project_id)
    export = Export.objects.create(
        project=project,
        format=fmt,
        filters=export_filters_clean(filters={}, project=project, format=fmt),
        schema=project.questions,
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    export = export_run(export_id=export.pk)
    elapsed = time.perf_counter() - t0
    assert export.state == "ready", export.error
    source_rows = project.annotations.count() if fmt == "annotations" else project.tasks.count()
    print(
        json.dumps(
            {
                "format": fmt,
                "source_rows": source_rows,
                "lines": export.row_count,
                "bytes": export.bytes,
                "seconds": round(elapsed, 2),
                "rows_per_s": round(source_rows / elapsed),
                "lines_per_s": round(export.row_count / elapsed),
                "rss_after_setup_mb": round(rss_before, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )
    Path(export.file_path).unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--formats", default="annotations,sft")
    parser.add_argument("--worker", nargs=2, metavar=("PROJECT", "FORMAT"))
    parser.add_argument("--reuse", action="store_true", help="keep the data of the last run")
    args = parser.parse_args()
    if args.worker:
        worker(int(args.worker[0]), args.worker[1])
        return
    base = os.environ.get("DATABASE_URL", "postgres://quorum:quorum@127.0.0.1:55432/quorum")
    url = bench_url(base)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.reuse:
        import psycopg

        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT slug, id FROM projects_project").fetchall()
        projects = {int(slug.split("-")[1]): pid for slug, pid in rows}
    else:
        projects = build_database(url, sizes)
    print(f"{'annotations':>12} {'format':>12} {'lines':>10} {'s':>7} {'rows/s':>9} {'peak MB':>8}")
    for size in sizes:
        for fmt in args.formats.split(","):
            r = run_one(url, projects[size], fmt)
            print(
                f"{size:>12,} {fmt:>12} {r['lines']:>10,} {r['seconds']:>7} "
                f"{r['rows_per_s']:>9,} {max(r['peak_rss_mb'], r['peak_rss_mb_sampled']):>8}"
            )
            print("  " + json.dumps(r))


if __name__ == "__main__":
    main()
