"""Task browser benchmark: a filtered and a searched page of a 1,000,000-task project.

    .venv/bin/python bench/task_browser_bench.py [--tasks 1000000] [--requests 60] [--regenerate]
                                                 [--database quorum_bench_browser]

Works in its own database (quorum_bench_browser unless --database names another,
created and migrated on first run, kept for later runs), filled in SQL with
generate_series: each task's instruction names one of 50 topics and ends in an
md5 of its number; a tenth of the tasks are disputed (half of them on
``topic``), half complete, the rest open; every complete or disputed task has an
agreement row. The tasks came in IMPORTS imports of equal size, one after the
other (each task records its import, as an import stores it). Pages are fetched
as a lead through Django's test client (every middleware, the template, the
real database), one after another; p50 and p95 are of the whole request.
Annotations are not generated, so the "answered by" filter is not measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "quorum_bench_browser"
SLUG = "bench-browser"
TOPICS = [f"topic{i:02d}" for i in range(50)]
IMPORTS = 10
QUESTIONS = [
    {"name": "topic", "type": "label", "options": ["writing", "coding", "math", "other"]},
    {"name": "quality", "type": "rating", "min": 1, "max": 5},
]


def _bench_database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL", "postgres://quorum:quorum@127.0.0.1:55432/quorum")
    return urlunparse(urlparse(base)._replace(path=f"/{name}"))


def _ensure_database(url: str, name: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _generate(n_tasks: int):
    from django.db import connection, transaction

    from imports.models import ImportJob
    from projects.models import Project
    from projects.services import task_words_fill

    old = list(Project.objects.filter(slug=SLUG).values_list("id", flat=True))
    with connection.cursor() as cur:
        # Bulk SQL: Django's cascade would load a million rows to delete them.
        cur.execute(
            "DELETE FROM projects_taskagreement m USING projects_task t"
            " WHERE m.task_id = t.id AND t.project_id = ANY(%s)",
            [old],
        )
        cur.execute("DELETE FROM projects_taskwords WHERE project_id = ANY(%s)", [old])
        cur.execute("DELETE FROM projects_task WHERE project_id = ANY(%s)", [old])
    Project.objects.filter(slug=SLUG).delete()
    project = Project.objects.create(name="Browser benchmark", slug=SLUG, questions=QUESTIONS)
    per_import = -(-n_tasks // IMPORTS)
    jobs = [
        ImportJob.objects.create(
            project=project,
            filename=f"part-{i + 1}.jsonl",
            state=ImportJob.State.DONE,
            created_count=min(per_import, n_tasks - i * per_import),
        ).pk
        for i in range(IMPORTS)
    ]
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO projects_task (project_id, external_id, data, content_hash, is_gold,
                   state, annotation_count, disputed_questions, import_id, created_at)
            SELECT %(project)s, 'b' || g,
                   jsonb_build_object(
                     'instruction', 'Explain ' || (%(topics)s::text[])[1 + g %% 50]
                                    || ' to a child: ' || md5(g::text),
                     'responses', jsonb_build_array('First answer ' || g, 'Second answer ' || g)),
                   md5('browser' || g), g %% 100 = 7,
                   CASE WHEN g %% 10 = 0 THEN 'disputed' WHEN g %% 10 < 6 THEN 'complete'
                        ELSE 'open' END,
                   CASE WHEN g %% 10 < 6 THEN 3 ELSE 0 END,
                   CASE WHEN g %% 20 = 0 THEN '["topic"]'::jsonb
                        WHEN g %% 10 = 0 THEN '["quality"]'::jsonb END,
                   (%(jobs)s::bigint[])[1 + (g - 1) / %(per_import)s],
                   now()
              FROM generate_series(1, %(n)s) AS g
            """,
            {
                "project": project.id,
                "topics": TOPICS,
                "n": n_tasks,
                "jobs": jobs,
                "per_import": per_import,
            },
        )
        cur.execute(
            """
            INSERT INTO projects_taskagreement (task_id, agreement, consensus)
            SELECT id, CASE WHEN state = 'disputed' THEN random() * 0.5 ELSE 0.5 + random() * 0.5
                       END, '{"topic": "writing"}'::jsonb
              FROM projects_task WHERE project_id = %s AND state IN ('complete', 'disputed')
            """,
            [project.id],
        )
    # The search words, as an import writes them once it is done.
    start = time.perf_counter()
    task_words_fill(project_id=project.id)
    print(f"wrote the search words of {n_tasks:,} tasks in {time.perf_counter() - start:.1f} s")
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE projects_task")
        cur.execute("VACUUM ANALYZE projects_taskagreement")
        cur.execute("VACUUM ANALYZE projects_taskwords")
    return project


def _settings() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        names = ["server_version", "shared_buffers", "work_mem", "effective_cache_size", "jit"]
        found = []
        for name in names:
            cur.execute(f"SHOW {name}")
            found.append(f"{name}={cur.fetchone()[0]}")
    return " ".join(found)


def _measure(client, url: str, requests: int) -> tuple[float, float, int]:
    for _ in range(3):
        client.get(url)  # warm: session, caches, the pages of the index
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    rows = response.content.decode().count("data-task=")
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--database", default=DB_NAME, help="the benchmark's own database")
    args = parser.parse_args()

    url = _bench_database_url(args.database)
    _ensure_database(url, args.database)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from imports.models import ImportJob
    from projects.models import Membership, Project, Role

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    project = Project.objects.filter(slug=SLUG).first()
    if (
        args.regenerate
        or project is None
        or project.tasks.count() != args.tasks
        or not project.imports.exists()
    ):
        start = time.perf_counter()
        project = _generate(args.tasks)
        print(f"generated {args.tasks:,} tasks in {time.perf_counter() - start:.1f} s")
    lead, _ = get_user_model().objects.get_or_create(username="bench-browser-lead")
    Membership.objects.get_or_create(project=project, user=lead, defaults={"role": Role.LEAD})
    client = Client()
    client.force_login(lead)
    base = reverse("agreement:task-list", args=[project.pk])
    last = project.tasks.order_by("-id").values_list("id", flat=True).first()
    imports = list(
        ImportJob.objects.filter(project=project).order_by("id").values_list("id", flat=True)
    )
    pages = {
        "first page, no filter": "",
        "filtered (disputed, agreement <= 0.3, topic)": (
            "?state=disputed&agreement_max=0.3&question=topic"
        ),
        "filtered, deep page": f"?state=complete&agreement_min=0.9&after={last - 50_000}",
        "searched, common word (1 in 50)": "?q=topic37",
        "searched + filtered": "?q=topic10&state=disputed",
        # Every task with the word is open: the whole match set is read to find none.
        "searched + filtered, no match (worst case)": "?q=topic12&state=disputed",
        "searched, rare (md5 fragment)": "?q=c4ca4238a0",
        "searched, no match": "?q=zzzzzz",
        "searched, two words (1 in 50, then rare)": "?q=topic37+c4ca",
        'searched, "quoted phrase" (1 in 50)': '?q="explain+topic37+to"',
        "import, the first": f"?import={imports[0]}",
        "import, the last": f"?import={imports[-1]}",
        "import + state + search": f"?import={imports[-1]}&state=disputed&q=topic10",
        # The last import's tasks are all after the first import's: none matches both.
        "import + search, no match": f"?import={imports[0]}&q=zzzzzz",
    }
    print(f"tasks={args.tasks:,} requests={args.requests} {_settings()}")
    print(f"{'page':<48} {'p50 ms':>8} {'p95 ms':>8} {'rows':>5}", flush=True)
    for name, query in pages.items():
        p50, p95, rows = _measure(client, base + query, args.requests)
        print(f"{name:<48} {p50:8.1f} {p95:8.1f} {rows:5d}", flush=True)


if __name__ == "__main__":
    main()
