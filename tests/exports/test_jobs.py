"""The export job for real: queued through the API, built by the Celery worker,
announced on the stream; and a worker killed mid-export."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from agreement.models import TaskAgreement
from exports.models import Export
from exports.services import export_path, export_run
from projects.models import Annotation, Task
from tests.conftest import ROOT, _database_url, wait_for
from tests.exports.conftest import make_task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_builds_export_and_announces_it(celery_worker, api, text_project, lead):
    crew = [UserFactory(username=f"w{i}") for i in range(3)]
    for n in range(1, 21):
        make_task(
            text_project, n, consensus={"answer": f"Answer {n}", "better": "A"}, annotators=crew
        )
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    stream = settings.EXPORT_STREAM
    try:
        client.xgroup_create(stream, "trainers", id="$", mkstream=True)
    except redis.ResponseError:  # the group exists from an earlier run
        client.xgroup_setid(stream, "trainers", id="$")

    response = api(lead).post(
        f"/api/v1/projects/{text_project.pk}/exports/", {"format": "sft"}, format="json"
    )
    assert response.status_code == 202
    export_id = response.json()["id"]
    export = wait_for(
        lambda: Export.objects.filter(pk=export_id, state__in=["ready", "failed"]).first()
    )
    assert export.state == "ready", export.error
    assert export.row_count == 20

    entries = client.xreadgroup("trainers", "trainer-1", {stream: ">"}, count=10, block=5000)
    manifests = [fields for _, messages in entries for _, fields in messages]
    mine = [m for m in manifests if m["export_id"] == str(export_id)]
    assert mine, manifests
    assert mine[0]["sha256"] == export.sha256
    download = api(lead).get(mine[0]["download"])
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == export.sha256


def test_worker_killed_mid_export_leaves_nothing_ready_and_retry_completes(
    text_project, export_root, api, lead
):
    users = [UserFactory(username=f"k{i}") for i in range(3)]
    tasks = Task.objects.bulk_create(
        Task(
            project=text_project,
            external_id=f"k{n}",
            data={"instruction": f"Do {n}"},
            content_hash=f"k{n}",
        )
        for n in range(600)
    )
    TaskAgreement.objects.bulk_create(
        TaskAgreement(task=t, consensus={"answer": f"Done {t.external_id[1:]}"}) for t in tasks
    )
    Annotation.objects.bulk_create(
        Annotation(project=text_project, task=t, annotator=u, values={"answer": "x"})
        for t in tasks
        for u in users
    )
    export = Export.objects.create(project=text_project, format="annotations", schema=[])
    # The worker process runs the real service; each line is slowed so that it
    # can be killed part-way through.
    script = textwrap.dedent(
        f"""
        import time, django
        django.setup()
        from exports import formats
        original = formats.FORMATTERS["annotations"]
        def slow(row, ctx):
            time.sleep(0.002)
            yield from original(row, ctx)
        formats.FORMATTERS["annotations"] = slow
        from exports.services import export_run
        export_run(export_id={export.pk})
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "annotator.settings",
        "DATABASE_URL": _database_url(),
        "EXPORT_ROOT": str(export_root),
    }
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env)
    try:
        wait_for(lambda: Export.objects.filter(pk=export.pk, progress__gt=0).exists(), timeout=30)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    export.refresh_from_db()
    final = export_path(export)
    assert export.state == "running"
    assert not final.exists()
    partial = list(Path(final.parent).glob(f"{final.name}.part-*"))
    assert partial, "the killed worker was writing a temporary file"
    assert api(lead).get(f"/api/v1/exports/{export.pk}/download/").status_code == 409

    # While its heartbeat is fresh, a second delivery does not take the job over.
    assert export_run(export_id=export.pk).state == "running"
    # Once the heartbeat is stale (time passes), a redelivered or resent message
    # claims it: it starts over and finishes.
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    Export.objects.filter(pk=export.pk).update(heartbeat_at=stale)
    export = export_run(export_id=export.pk)
    assert export.state == "ready"
    assert export.attempts == 2
    assert export.row_count == 1800
    assert not list(Path(final.parent).glob(f"{final.name}.part-*"))
    data = final.read_bytes()
    assert data.count(b"\n") == 1800
    assert hashlib.sha256(data).hexdigest() == export.sha256
