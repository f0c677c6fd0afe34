"""The example consumer against a running server: latest, resume, checksum, datasets."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exports.services import export_token_create
from tests.conftest import ROOT
from tests.exports.conftest import build, make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_consumer_resumes_verifies_and_loads(live_server, text_project, lead, tmp_path):
    for n in range(1, 31):
        make_task(text_project, n, consensus={"answer": f"Answer {n}"})
    export = build(text_project, "sft")
    _, raw = export_token_create(project=text_project, user=lead, name="trainer")
    out = tmp_path / "data"
    out.mkdir()
    # A download that broke off after 100 bytes: the consumer resumes it.
    content = Path(export.file_path).read_bytes()
    (out / f"sft-{export.pk}.jsonl").write_bytes(content[:100])
    result = subprocess.run(
        [
            sys.executable,
            "examples/consume_exports.py",
            "latest",
            "--project",
            str(text_project.pk),
            "--format",
            "sft",
            "--out",
            str(out),
            "--url",
            live_server.url,
        ],
        cwd=ROOT,
        env={**os.environ, "QUORUM_EXPORT_TOKEN": raw},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "30 rows" in result.stdout
    got = (out / f"sft-{export.pk}.jsonl").read_bytes()
    assert hashlib.sha256(got).hexdigest() == export.sha256


def test_consumer_recovers_from_a_partial_file_that_does_not_match(
    live_server, text_project, lead, tmp_path
):
    for n in range(1, 11):
        make_task(text_project, n, consensus={"answer": f"Answer {n}"})
    export = build(text_project, "sft")
    _, raw = export_token_create(project=text_project, user=lead, name="trainer")
    # Bytes that are not this export's: the resumed file fails its check once,
    # and the consumer downloads it again from the start by itself.
    (tmp_path / f"sft-{export.pk}.jsonl").write_bytes(b"not the export" * 10)
    result = subprocess.run(
        [
            sys.executable, "examples/consume_exports.py", "latest",
            "--project", str(text_project.pk), "--out", str(tmp_path), "--url", live_server.url,
        ],
        cwd=ROOT, env={**os.environ, "QUORUM_EXPORT_TOKEN": raw},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "downloading it again" in result.stderr
    got = (tmp_path / f"sft-{export.pk}.jsonl").read_bytes()
    assert hashlib.sha256(got).hexdigest() == export.sha256


def test_consumer_refuses_a_wrong_token(live_server, text_project, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "examples/consume_exports.py",
            "latest",
            "--project",
            str(text_project.pk),
            "--out",
            str(tmp_path),
            "--url",
            live_server.url,
            "--token",
            "qex_wrong",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "401" in result.stdout + result.stderr
