"""Jobs and their files in the bucket, run in this process: failures leave no
object, an upload lives exactly as long as its job can still run, and the
cleanup command works through the bucket. Plus the same job-end removal on
local disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from exports.cleanup import failed_files_cleanup
from exports.models import Export
from exports.services import export_run
from exports.storage import export_key, export_path
from imports.cleanup import uploads_cleanup
from imports.models import ImportJob
from imports.services import import_run
from imports.sweep import sweep_imports
from imports.uploads import import_upload_accept
from projects.models import Task
from web import files

pytestmark = pytest.mark.django_db

JSONL = b'{"id": "a", "instruction": "Say a."}\n{"id": "b", "instruction": "Say b."}\n'
LONG_AGO = timezone.now() - timedelta(hours=1)


def _died(model, **fields):
    """A job row whose worker died mid-run: running, its heartbeat long stale."""
    return model.objects.create(
        state="running", attempts=1, heartbeat_at=LONG_AGO, started_at=LONG_AGO, **fields
    )


def _accept(project, lead, content: bytes = JSONL, name: str = "tasks.jsonl") -> ImportJob:
    return import_upload_accept(
        project=project,
        user=lead,
        upload=SimpleUploadedFile(name, content),
        shape="auto",
        mapping_raw=None,
    )


# --- exports ---------------------------------------------------------------------


def test_a_failed_export_leaves_no_object_even_one_an_earlier_attempt_stored(
    s3, project, settings, tmp_path
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    # A row of a format this version no longer knows: the export fails while writing.
    export = _died(Export, project=project, format="retired", schema=[])
    key = export_key(export)
    # The attempt before uploaded the whole file and died before marking it ready.
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=b'{"old": 1}\n')
    export = export_run(export_id=export.pk)
    assert export.state == "failed"
    assert "retired" in export.error
    assert key not in s3.object_keys()
    assert not [p for p in (tmp_path / "exports").rglob("*") if p.is_file()]
    assert export.file_path == ""


def test_an_export_whose_upload_is_refused_fails_and_keeps_no_partial_file(
    s3, project, settings, tmp_path
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.S3_BUCKET = "no-such-bucket"
    export = Export.objects.create(project=project, format="annotations", schema=[])
    export = export_run(export_id=export.pk)
    assert export.state == "failed"
    assert "NoSuchBucket" in export.error
    assert not [p for p in (tmp_path / "exports").rglob("*") if p.is_file()]
    assert s3.object_keys() == []


def test_cleanup_removes_failed_exports_objects_only(s3, project):
    failed = Export.objects.create(project=project, format="sft", state="failed")
    ready = Export.objects.create(
        project=project, format="sft", state="ready", sha256="0" * 64, file_path="x"
    )
    elsewhere = f"exports/{project.pk}/export-999999-{'a' * 32}.jsonl"
    for key in (export_key(failed), export_key(ready), elsewhere):
        s3.client().put_object(Bucket=s3.bucket, Key=key, Body=b"{}\n")
    assert failed_files_cleanup() == [files.s3_ref(export_key(failed))]
    # Another installation's file (no such export here) and a ready one stay.
    assert {export_key(ready), elsewhere} <= set(s3.object_keys())
    assert export_key(failed) not in s3.object_keys()


# --- imports ---------------------------------------------------------------------


def test_an_upload_outlives_a_dead_worker_and_goes_when_the_retry_ends(s3, project, lead):
    job = _accept(project, lead)
    _, key = files.s3_parts(job.file_path)
    assert key in s3.object_keys("imports/")
    ImportJob.objects.filter(pk=job.pk).update(
        state="running", attempts=1, heartbeat_at=LONG_AGO, started_at=LONG_AGO
    )
    # The sweeper puts the job back in the queue: it will run again, so the upload stays.
    assert sweep_imports()["requeued"] == 1
    assert key in s3.object_keys("imports/")
    job = import_run(job_id=job.pk)
    assert (job.state, job.created_count, job.attempts) == ("done", 2, 2)
    assert Task.objects.filter(project=project).count() == 2
    assert key not in s3.object_keys("imports/")


def test_an_import_given_up_by_the_sweeper_loses_its_upload(s3, project, lead, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    job = _accept(project, lead)
    _, key = files.s3_parts(job.file_path)
    ImportJob.objects.filter(pk=job.pk).update(
        state="running", attempts=3, heartbeat_at=LONG_AGO, started_at=LONG_AGO
    )
    assert sweep_imports()["failed"] == 1
    assert key not in s3.object_keys("imports/")


def test_a_failed_import_loses_its_upload_and_a_missing_one_fails_clearly(s3, project, lead):
    job = _accept(project, lead, '{"instruction": "café"}\n'.encode("latin-1"), "bad.jsonl")
    _, key = files.s3_parts(job.file_path)
    job = import_run(job_id=job.pk)
    assert job.state == "failed"
    assert "UTF-8" in job.message
    assert key not in s3.object_keys("imports/")
    gone = ImportJob.objects.create(
        project=project, file_path=files.s3_ref("imports/never-stored.jsonl"), filename="x.jsonl"
    )
    gone = import_run(job_id=gone.pk)
    assert (gone.state, gone.message) == ("failed", "The uploaded file is gone; upload it again.")


def test_cleanup_command_removes_finished_and_orphan_uploads_in_the_bucket(
    s3, project, lead, capsys, settings, tmp_path
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    running = _accept(project, lead)
    ImportJob.objects.filter(pk=running.pk).update(state="running")
    done = _accept(project, lead)
    ImportJob.objects.filter(pk=done.pk).update(state="done")
    orphan = files.put(SimpleUploadedFile("o.jsonl", JSONL), "imports/orphan.jsonl")
    removed = set(uploads_cleanup(orphan_after=timedelta(0)))
    assert removed == {done.file_path, orphan}
    assert files.s3_parts(running.file_path)[1] in s3.object_keys("imports/")
    call_command("cleanup_files")
    assert "removed 0 uploaded import files" in capsys.readouterr().out


# --- local disk --------------------------------------------------------------------


def test_on_local_disk_an_upload_goes_when_its_job_ends(project, lead, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    done = _accept(project, lead)
    failed = _accept(project, lead, b"\xff\xfe not text\n", "bad.jsonl")
    assert Path(done.file_path).parent == tmp_path / "media" / "imports"
    assert Path(done.file_path).is_file()
    assert import_run(job_id=done.pk).state == "done"
    assert import_run(job_id=failed.pk).state == "failed"
    assert not Path(done.file_path).exists()
    assert not Path(failed.file_path).exists()
    # A job may name a file that is not an upload: that one is never removed.
    elsewhere = tmp_path / "kept.jsonl"
    elsewhere.write_bytes(JSONL)
    job = ImportJob.objects.create(project=project, file_path=str(elsewhere), filename="k.jsonl")
    assert import_run(job_id=job.pk).state == "done"
    assert elsewhere.is_file()


def test_on_local_disk_an_export_is_still_a_renamed_local_file(project, settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    export = Export.objects.create(project=project, format="annotations", schema=[])
    export = export_run(export_id=export.pk)
    assert export.state == "ready", export.error
    assert export.file_path == str(export_path(export))
    assert Path(export.file_path).is_file()


def _bucket_down(settings) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings.S3_BUCKET = "quorum-down"
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{closed}"
    settings.S3_ACCESS_KEY_ID, settings.S3_SECRET_ACCESS_KEY = "test", "test"


def test_an_unreachable_bucket_answers_503_and_stores_no_job(api, project, lead, client, settings):
    _bucket_down(settings)
    line = b'{"instruction": "Say hi.", "output": "Hi."}\n'

    response = api(lead).post(
        f"/api/v1/projects/{project.pk}/imports/",
        {"file": SimpleUploadedFile("tasks.jsonl", line)},
        format="multipart",
    )
    assert response.status_code == 503
    assert "File storage is unavailable" in response.json()["detail"]

    client.force_login(lead)
    page = client.post(
        f"/projects/{project.pk}/imports/", {"file": SimpleUploadedFile("tasks.jsonl", line)}
    )
    assert page.status_code == 503
    assert "File storage is unavailable" in page.content.decode()
    assert not ImportJob.objects.filter(project=project).exists()


def test_a_download_while_the_bucket_is_unreachable_answers_503(api, project, lead, settings):
    _bucket_down(settings)
    export = Export.objects.create(
        project=project,
        format="sft",
        state="ready",
        sha256="0" * 64,
        bytes=100,
        file_path="s3://quorum-down/exports/1/export-1-x.jsonl",
    )
    response = api(lead).get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 503
    assert "File storage is unavailable" in response.json()["detail"]
    assert response["Retry-After"] == "30"
