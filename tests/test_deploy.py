"""The documented production settings pass Django's deployment checks, and the
scripts keep their promises: durable commits, one command stops what run.sh started."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The production settings README.md documents (besides DATABASE_URL and REDIS_URL).
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "quorum.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://quorum.example.org",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "SECURE_HSTS_PRELOAD": "1",
}


def _base_env() -> dict:
    # The test session allows async-unsafe calls (Playwright); production must not.
    return {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_are_secure_by_default():
    code = (
        "from django.conf import settings as s; "
        "print('settings:', s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS > 0, s.SECURE_PROXY_SSL_HEADER)"
    )
    result = _manage("shell", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("settings:"))
    assert line == "settings: True True True True ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_readme_documents_every_variable_the_settings_and_scripts_read():
    readme = (ROOT / "README.md").read_text()
    names = set()
    for path in [ROOT / "annotator" / "settings.py"]:
        names |= set(re.findall(r'env_\w+\(\s*"([A-Z_0-9]+)"', path.read_text()))
    for path in (ROOT / "scripts").glob("*.sh"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z_0-9]+)[:}]", path.read_text()))
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert missing == []


def test_services_script_starts_postgresql_durable():
    script = (ROOT / "scripts" / "services.sh").read_text()
    assert "synchronous_commit = off\nCONF" not in script
    assert "-c synchronous_commit=$sync" in script
    assert 'sync=on\n  [ "${QUORUM_PG_RELAXED:-0}" = "1" ] && sync=off' in script


@pytest.mark.parametrize("pidfile", ["web.pid", "worker.pid"])
def test_services_stop_app_stops_what_run_sh_started(tmp_path, pidfile):
    # A process that looks like run.sh's web server or worker (manage.py), its
    # pid in the run folder as run.sh writes it.
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", "import time; time.sleep(120)"],
        cwd=ROOT,
        env={**os.environ},
    )
    try:
        (tmp_path / pidfile).write_text(str(proc.pid))
        stopped = subprocess.run(
            ["bash", "scripts/services.sh", "stop-app"],
            cwd=ROOT,
            env={**os.environ, "QUORUM_RUN_DIR": str(tmp_path)},
            timeout=60,
        )
        assert stopped.returncode == 0
        assert proc.wait(timeout=10) is not None
        assert not (tmp_path / pidfile).exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stop_app_leaves_a_recycled_pid_alone(tmp_path):
    other = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "web.pid").write_text(str(other.pid))
        subprocess.run(
            ["bash", "scripts/services.sh", "stop-app"],
            cwd=ROOT,
            env={**os.environ, "QUORUM_RUN_DIR": str(tmp_path)},
            timeout=60,
            check=True,
        )
        time.sleep(0.2)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def _compose() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _volume_sources(service: dict) -> set[str]:
    return {
        volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
        for volume in service.get("volumes", [])
    }


def test_compose_runs_two_web_and_two_worker_replicas_behind_a_proxy():
    services = _compose()["services"]
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    # Two replicas cannot publish one host port: only the proxy does.
    assert "ports" not in services["web"]
    proxy = services["proxy"]
    assert proxy["ports"] == ["8000:80"]
    config_file, _, mount = proxy["volumes"][0].partition(":")
    config = (ROOT / config_file).read_text()
    assert "server web:8000 resolve;" in config
    assert "proxy_pass http://quorum_web;" in config
    assert mount.startswith("/etc/nginx/conf.d/")


def test_compose_web_and_workers_share_no_disk_and_use_the_bucket():
    services = _compose()["services"]
    web, worker = services["web"], services["worker"]
    # A named volume or a host folder, wherever it is mounted: none in both.
    assert not _volume_sources(web) & _volume_sources(worker)
    for service in (web, worker, services["migrate"]):
        env = service["environment"]
        for name in (
            "S3_BUCKET",
            "S3_ENDPOINT_URL",
            "S3_REGION",
            "S3_ACCESS_KEY_ID",
            "S3_SECRET_ACCESS_KEY",
            "S3_PRESIGNED_DOWNLOADS",
        ):
            assert env.get(name), name
        assert env["S3_ENDPOINT_URL"].endswith("http://minio:9000}")
    assert services["minio"]["image"].startswith("minio/minio")
    bucket = services["minio-bucket"]
    assert bucket["image"].startswith("minio/mc")
    assert "mc mb --ignore-existing" in bucket["command"][0]
    for name in ("web", "worker"):
        needs = services[name]["depends_on"]
        assert needs["minio-bucket"]["condition"] == "service_completed_successfully"
        assert needs["migrate"]["condition"] == "service_completed_successfully"


def test_compose_migrates_once_in_its_own_service():
    services = _compose()["services"]
    assert "migrate" in services["migrate"]["command"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "proxy"):
        assert "migrate" not in str(services[name].get("command", "")), name
