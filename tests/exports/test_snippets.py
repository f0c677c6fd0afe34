"""The exports page's snippets, run as a training job would run them, against a live server."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from urllib.parse import urlparse

import pytest

from exports.services import export_token_create
from tests.exports.test_api import ready_export

pytestmark = pytest.mark.django_db(transaction=True)

OLD = b'{"messages": [{"role": "user", "content": "old"}]}\n' * 400
NEW = b'{"messages": [{"role": "user", "content": "new"}]}\n' * 500


@pytest.fixture
def snippets(client, project, lead, live_server):
    """The page's snippets as a lead copies them, pointing at the live server."""

    def read() -> dict[str, str]:
        client.force_login(lead)
        host = urlparse(live_server.url).netloc
        page = client.get(f"/projects/{project.pk}/exports/", HTTP_HOST=host).content.decode()
        found = re.findall(r'<code id="(\w+)-snippet">(.*?)</code>', page, re.S)
        return {name: html.unescape(code) for name, code in found}

    return read


@pytest.fixture
def job_env(project, lead, tmp_path):
    _, token = export_token_create(project=project, user=lead, name="trainer")
    return {**os.environ, "QUORUM_EXPORT_TOKEN": token}


def run_curl(snippet: str, cwd, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", snippet], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_curl_snippet_across_a_newer_export_never_mixes_files(
    snippets, job_env, project, export_root, tmp_path
):
    old = ready_export(project, export_root, fmt="sft", content=OLD)
    curl = snippets()["curl"]
    work = tmp_path / "job"
    work.mkdir()

    first = run_curl(curl, work, job_env)
    assert first.returncode == 0, first.stderr
    assert f"sft-{old.pk}.jsonl: OK" in first.stdout
    assert (work / f"sft-{old.pk}.jsonl").read_bytes() == OLD

    # A download of the old export was cut short; then a newer export is made.
    (work / f"sft-{old.pk}.jsonl").write_bytes(OLD[:1000])
    new = ready_export(project, export_root, fmt="sft", content=NEW)
    second = run_curl(curl, work, job_env)
    assert second.returncode == 0, second.stderr
    assert f"sft-{new.pk}.jsonl: OK" in second.stdout
    assert (work / f"sft-{new.pk}.jsonl").read_bytes() == NEW
    assert (work / f"sft-{old.pk}.jsonl").read_bytes() == OLD[:1000]

    # Interrupted again, the same command resumes the same export and verifies it.
    (work / f"sft-{new.pk}.jsonl").write_bytes(NEW[:777])
    third = run_curl(curl, work, job_env)
    assert third.returncode == 0, third.stderr
    assert (work / f"sft-{new.pk}.jsonl").read_bytes() == NEW


def test_curl_snippet_fails_on_a_corrupt_partial_file(
    snippets, job_env, project, export_root, tmp_path
):
    export = ready_export(project, export_root, fmt="sft", content=NEW)
    (tmp_path / f"sft-{export.pk}.jsonl").write_bytes(b"X" * 100)
    result = run_curl(snippets()["curl"], tmp_path, job_env)
    assert result.returncode != 0
    assert "FAILED" in result.stdout


def test_python_snippet_downloads_the_latest_export_by_id_and_checks_it(
    snippets, job_env, project, export_root, tmp_path
):
    ready_export(project, export_root, fmt="sft", content=OLD)
    new = ready_export(project, export_root, fmt="sft", content=NEW)
    result = subprocess.run(
        [sys.executable, "-c", snippets()["python"]], cwd=tmp_path, env=job_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / f"sft-{new.pk}.jsonl").read_bytes() == NEW
