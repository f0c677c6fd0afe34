"""Uploads and exports in an S3-compatible bucket, end to end: the API, a real
Celery worker with a bucket and no disk shared with this process, downloads
streamed from the bucket or through a presigned redirect."""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.error
import urllib.request

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token

from exports.models import Export
from imports.models import ImportJob
from projects.models import Annotation, Task
from tests.conftest import ROOT, wait_for
from tests.factories import UserFactory
from web import files

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

ANSWER = {"better": "A", "quality": 4, "topic": "writing"}


def _jsonl(count: int) -> bytes:
    return b"".join(
        json.dumps({"id": f"s{n}", "instruction": f"Say {n}.", "output": f"{n}"}).encode() + b"\n"
        for n in range(count)
    )


def _fetch(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    """GET without our credentials, as a client following the redirect would."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_import_then_export_through_the_bucket(
    storage_worker, s3_server, api, project, lead, annotator, settings, tmp_path, live_server
):
    s3 = s3_server
    settings.MEDIA_ROOT = tmp_path / "web-media"
    settings.EXPORT_ROOT = tmp_path / "web-exports"
    client = api(lead)

    # The upload goes to the bucket; the worker, on a disk of its own, imports it.
    response = client.post(
        f"/api/v1/projects/{project.pk}/imports/",
        {"file": SimpleUploadedFile("tasks.jsonl", _jsonl(30))},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job = ImportJob.objects.get(pk=response.json()["id"])
    bucket, key = files.s3_parts(job.file_path)
    assert (bucket, key.startswith("imports/")) == (s3.bucket, True)
    assert not (tmp_path / "web-media").exists()  # nothing kept on the web side's disk
    job = wait_for(
        lambda: ImportJob.objects.filter(pk=job.pk, state__in=["done", "failed"]).first(),
        timeout=60,
    )
    assert job.state == "done", job.message
    assert job.created_count == 30
    assert Task.objects.filter(project=project).count() == 30
    # The upload went when its job ended.
    assert key not in s3.object_keys("imports/")

    second = UserFactory(username="second")
    for task in Task.objects.filter(project=project):
        for user in (annotator, second):
            Annotation.objects.create(project=project, task=task, annotator=user, values=ANSWER)

    response = client.post(
        f"/api/v1/projects/{project.pk}/exports/", {"format": "annotations"}, format="json"
    )
    assert response.status_code == 202, response.content
    export = wait_for(
        lambda: Export.objects.filter(
            pk=response.json()["id"], state__in=["ready", "failed"]
        ).first(),
        timeout=90,
    )
    assert export.state == "ready", export.error
    assert export.row_count == 60
    key = f"exports/{project.pk}/export-{export.pk}-{export.nonce.hex}.jsonl"
    assert export.file_path == f"s3://{s3.bucket}/{key}"
    stored = s3.get(key)
    assert hashlib.sha256(stored).hexdigest() == export.sha256
    assert len(stored) == export.bytes
    # The worker kept no copy, whole or partial, on its disk.
    assert not [p for p in (storage_worker / "exports").rglob("*") if p.is_file()]

    # Streamed from the bucket by the web process.
    url = f"/api/v1/exports/{export.pk}/download/"
    whole = client.get(url)
    assert whole.status_code == 200
    assert whole["ETag"] == f'"{export.sha256}"'
    assert whole["Content-Length"] == str(export.bytes)
    assert f"-annotations-{export.pk}.jsonl" in whole["Content-Disposition"]
    assert b"".join(whole.streaming_content) == stored
    assert client.get(url, HTTP_IF_NONE_MATCH=f'"{export.sha256}"').status_code == 304
    part = client.get(url, HTTP_RANGE="bytes=100-299")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-299/{export.bytes}"
    assert b"".join(part.streaming_content) == stored[100:300]
    tail = client.get(url, HTTP_RANGE="bytes=-50")
    assert (tail.status_code, b"".join(tail.streaming_content)) == (206, stored[-50:])
    beyond = client.get(url, HTTP_RANGE=f"bytes={export.bytes}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{export.bytes}"

    # Presigned: a redirect to the bucket, which serves the same bytes and ranges.
    settings.S3_PRESIGNED_DOWNLOADS = True
    moved = client.get(url)
    assert moved.status_code == 302
    assert moved["ETag"] == f'"{export.sha256}"'
    assert moved["X-Export-Sha256"] == export.sha256
    assert moved["Location"].startswith(f"{s3.endpoint}/{s3.bucket}/{key}?")
    status, body = _fetch(moved["Location"])
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == export.sha256
    ranged = client.get(url, HTTP_RANGE="bytes=100-299")
    assert ranged.status_code == 302
    assert _fetch(ranged["Location"], {"Range": "bytes=100-299"}) == (206, stored[100:300])
    assert client.get(url, HTTP_IF_NONE_MATCH=f'"{export.sha256}"').status_code == 304
    assert client.get(url, HTTP_RANGE=f"bytes={export.bytes}-").status_code == 416
    # `latest` leads to the same download.
    latest = client.get(f"/api/v1/projects/{project.pk}/exports/latest/?format=annotations")
    assert (latest.status_code, latest["X-Export-Id"]) == (302, str(export.pk))

    # The example consumer follows the redirect without our token (storage refuses
    # two credentials at once), resumes a partial file and checks our sha256.
    sys.path.insert(0, str(ROOT / "examples"))
    import consume_exports

    target = tmp_path / "resumed.jsonl"
    target.write_bytes(stored[:120])
    token = Token.objects.get(user=lead).key
    sha256 = consume_exports.download(live_server.url, token, url, target)
    assert sha256 == export.sha256
    assert consume_exports.verify(target, sha256)
    assert target.read_bytes() == stored
