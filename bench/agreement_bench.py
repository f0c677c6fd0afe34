"""Agreement benchmark: a full recomputation over 1,000,000 annotations.

    .venv/bin/python bench/agreement_bench.py [--tasks 333334] [--answers 3] [--regenerate]

Works in its own database (quorum_bench_agreement, created on first run and
kept for later runs), filled in SQL with generate_series: a pool of 10
annotators, ``--answers`` annotations per task, four questions (label,
rating, preference with strength, multilabel), each annotator right with
probability 0.6..0.95. Reports the wall time of ``agreement_snapshot_create``
(load, coefficients with 1000 bootstrap samples, Dawid-Skene, per-task write,
snapshot), the CPU time this process spent (wall time minus waiting for
PostgreSQL and for other processes on a shared machine), the time per phase
(they overlap: PostgreSQL runs the per-task write while the coefficients are
computed), and the peak resident memory of the process during it. Run 1
after --regenerate or --forget is the first recomputation, which writes every
task's result.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "quorum_bench_agreement"
SLUG = "bench-agreement"
POOL = 10
QUESTIONS = [
    {"name": "topic", "type": "label", "options": ["writing", "coding", "math", "other"]},
    {"name": "quality", "type": "rating", "min": 1, "max": 5},
    {"name": "better", "type": "preference", "strength": True},
    {"name": "flags", "type": "multilabel", "options": ["unsafe", "wrong", "long", "vague"]},
]


def _bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://quorum:quorum@127.0.0.1:55432/quorum")
    return urlunparse(urlparse(base)._replace(path=f"/{DB_NAME}"))


def _ensure_database(url: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _generate(n_tasks: int, answers: int):
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from projects.models import Project

    User = get_user_model()
    old = list(Project.objects.filter(slug=SLUG).values_list("id", flat=True))
    if old:
        # Bulk SQL first: Django's cascade would load a million rows to delete them.
        with connection.cursor() as cur:
            cur.execute("DELETE FROM projects_annotation WHERE project_id = ANY(%s)", [old])
            _results_delete(cur, old)
            cur.execute("DELETE FROM projects_task WHERE project_id = ANY(%s)", [old])
    Project.objects.filter(slug=SLUG).delete()
    users = [User.objects.get_or_create(username=f"bench-annotator-{i}")[0] for i in range(POOL)]
    project = Project.objects.create(
        name="Agreement benchmark", slug=SLUG, questions=QUESTIONS, overlap=answers
    )
    user_ids = [u.id for u in users]
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO projects_task (project_id, external_id, data, content_hash, is_gold,
                                       state, annotation_count, created_at)
            SELECT %s, 'b' || g, jsonb_build_object('instruction', 'task ' || g),
                   md5('bench' || g), false, 'complete', %s, now()
              FROM generate_series(1, %s) AS g
            """,
            [project.id, answers, n_tasks],
        )
        # Each task gets `answers` distinct annotators from the pool (offsets 0, 3, 6, ...),
        # each right with their own accuracy, otherwise uniformly random.
        cur.execute(
            """
            WITH t AS (
                SELECT id, row_number() OVER (ORDER BY id) AS g,
                       floor(random() * 4)::int AS topic, 1 + floor(random() * 5)::int AS quality,
                       floor(random() * 7)::int - 3 AS better, floor(random() * 16)::int AS flags
                  FROM projects_task WHERE project_id = %(project)s
            ), a AS (
                SELECT t.*, k, ((t.g * 7 + k * 3) %% %(pool)s)::int AS slot
                  FROM t CROSS JOIN generate_series(0, %(answers)s - 1) AS k
            ), v AS (
                SELECT a.*, (%(users)s::int[])[slot + 1] AS annotator_id,
                       0.6 + 0.035 * slot AS acc
                  FROM a
            ), x AS (
                SELECT v.*,
                  CASE WHEN random() < acc THEN topic ELSE floor(random() * 4)::int END AS a_topic,
                  CASE WHEN random() < acc THEN quality ELSE 1 + floor(random() * 5)::int END
                      AS a_quality,
                  CASE WHEN random() < acc THEN better ELSE floor(random() * 7)::int - 3 END
                      AS a_better,
                  CASE WHEN random() < acc THEN flags ELSE floor(random() * 16)::int END AS a_flags
                  FROM v
            )
            INSERT INTO projects_annotation (project_id, task_id, annotator_id, values, client_id,
                   lead_time_s, source, review_state, review_comment, created_at, updated_at)
            SELECT %(project)s, id, annotator_id,
                   jsonb_build_object(
                     'topic', (ARRAY['writing','coding','math','other'])[a_topic + 1],
                     'quality', a_quality,
                     'better', CASE WHEN a_better = 0
                                    THEN jsonb_build_object('choice', 'tie', 'strength', 0)
                                    ELSE jsonb_build_object(
                                      'choice', CASE WHEN a_better < 0 THEN 'A' ELSE 'B' END,
                                      'strength', abs(a_better)) END,
                     'flags', (SELECT coalesce(jsonb_agg(o ORDER BY i), '[]'::jsonb)
                                 FROM unnest(ARRAY['unsafe','wrong','long','vague'])
                                      WITH ORDINALITY AS u(o, i)
                                WHERE (a_flags >> (i::int - 1)) & 1 = 1)),
                   gen_random_uuid(), 5 + random() * 60, 'import', 'pending', '', now(), now()
              FROM x
            """,
            {"project": project.id, "pool": POOL, "answers": answers, "users": user_ids},
        )
    # What autovacuum would do within the minute: done here, so that it does not
    # run during the timed recomputations.
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE projects_annotation")
        cur.execute("VACUUM ANALYZE projects_task")
    return project


def _results_delete(cur, project_ids: list[int]) -> None:
    """Bulk SQL: the per-task results of these projects (no foreign key cascades them)."""
    cur.execute(
        "DELETE FROM projects_taskagreement m USING projects_task t"
        " WHERE m.task_id = t.id AND t.project_id = ANY(%s)",
        [project_ids],
    )


def _forget(project) -> None:
    """Back to the state right after generation: no per-task results, no disputes."""
    from django.db import connection

    with connection.cursor() as cur:
        _results_delete(cur, [project.id])
        cur.execute(
            "UPDATE projects_task SET state = 'complete' WHERE project_id = %s"
            " AND state = 'disputed'",
            [project.id],
        )
        cur.execute("VACUUM ANALYZE projects_taskagreement")
        cur.execute("VACUUM ANALYZE projects_task")


class PeakRSS:
    """Samples the process's resident memory every 10 ms in a thread."""

    def __init__(self):
        import psutil

        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=333_334)
    parser.add_argument("--answers", type=int, default=3)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--forget",
        action="store_true",
        help="drop the computed per-task results first, so that run 1 is a first computation"
        " without regenerating the answers",
    )
    args = parser.parse_args()

    url = _bench_database_url()
    _ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from agreement.services import agreement_snapshot_create
    from projects.models import Annotation, Project

    call_command("migrate", verbosity=0)
    project = Project.objects.filter(slug=SLUG).first()
    expected = args.tasks * args.answers
    if (
        args.regenerate
        or project is None
        or Annotation.objects.filter(project=project).count() != expected
    ):
        started = time.perf_counter()
        project = _generate(args.tasks, args.answers)
        print(f"generated {expected:,} annotations in {time.perf_counter() - started:.1f} s")
    elif args.forget:
        _forget(project)
    n = Annotation.objects.filter(project=project).count()
    tasks = project.tasks.count()
    print(f"{n:,} annotations on {tasks:,} tasks, {POOL} annotators, {len(QUESTIONS)} questions")
    for run in range(1, args.runs + 1):
        with PeakRSS() as mem:
            base = mem.process.memory_info().rss
            started = time.perf_counter()
            cpu = time.process_time()
            snapshot = agreement_snapshot_create(project_id=project.id)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
        alphas = {
            name: round(float(q["krippendorff_alpha"]), 3)
            for name, q in snapshot.data["questions"].items()
            if q["krippendorff_alpha"] is not None
        }
        print(
            f"run {run}: {elapsed:.2f} s wall, {cpu:.2f} s CPU in this process "
            f"(load average {os.getloadavg()[0]:.1f}); peak RSS {mem.peak / 2**20:.0f} MiB "
            f"(+{(mem.peak - base) / 2**20:.0f} MiB over the {base / 2**20:.0f} MiB before); "
            f"phases {snapshot.data['timings']}; alpha {alphas}"
        )


if __name__ == "__main__":
    main()
