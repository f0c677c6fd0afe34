"""Every task order is an index walk without a sort on a project of 100,000 tasks.

The oldest 80 % of the tasks are finished, as in a project under way: a walk of
the primary key from the lowest id would pass all of them first.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.utils import timezone

from labeling import sql
from projects.models import Task
from tests.factories import ProjectFactory, UserFactory

N_TASKS = 100_000


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.django_db
def test_each_task_order_walks_an_index_without_sorting():
    project = ProjectFactory(overlap=2, overlap_max=4)
    user = UserFactory(username="planner")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {Task._meta.db_table}
                  (project_id, external_id, data, content_hash, is_gold, state,
                   annotation_count, created_at)
                SELECT %s, 't' || i, '{{}}'::jsonb, md5(i::text), i %% 50 = 0,
                       CASE WHEN i <= 80000 THEN 'complete' ELSE 'open' END,
                       CASE WHEN i <= 80000 THEN 2 WHEN i %% 7 = 0 THEN 1 ELSE 0 END, now()
                FROM generate_series(1, %s) AS i""",
            [project.pk, N_TASKS],
        )
        cursor.execute(f"ANALYZE {Task._meta.db_table}")
        params = {
            "project": project.pk,
            "user": user.pk,
            "gold": False,
            "overlap": 2,
            "overlap_max": 4,
            "now": timezone.now(),
            "tried": [],
            "spot": 0.5,
        }
        for order, query in sql.CANDIDATES.items():
            cursor.execute("EXPLAIN (FORMAT JSON) " + query, params)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            nodes = list(_plan_nodes(plan[0]["Plan"]))
            kinds = {n["Node Type"] for n in nodes}
            on_tasks = [n for n in nodes if n.get("Relation Name") == Task._meta.db_table]
            assert not kinds & {"Sort", "Incremental Sort"}, (order, kinds)
            assert on_tasks, order
            assert all(n["Node Type"] != "Seq Scan" for n in on_tasks), (order, kinds)
            # The walk stops at the first candidate: its cost does not grow with the project.
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query, params)
            analysed = cursor.fetchone()[0]
            analysed = json.loads(analysed) if isinstance(analysed, str) else analysed
            buffers = analysed[0]["Plan"].get("Shared Hit Blocks", 0) + analysed[0]["Plan"].get(
                "Shared Read Blocks", 0
            )
            assert buffers < 100, (order, buffers)
            walks = [n for n in nodes if n.get("Relation Name") == Task._meta.db_table]
            assert all(n.get("Index Name") != f"{Task._meta.db_table}_pkey" for n in walks), order
