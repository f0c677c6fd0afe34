"""A real S3-compatible server (moto's server mode) on a free local port, a
bucket on it, and a real Celery worker that keeps its files there.

The worker gets scratch folders of its own for MEDIA_ROOT and EXPORT_ROOT,
apart from this process's, and its own redis-server as broker (the suite's
session worker, which has no bucket, must not take these jobs): web and
worker share nothing but PostgreSQL, the broker and the bucket.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass

import boto3
import pytest

from annotator.celery import app
from tests.conftest import _database_url, wait_for, worker_process

REGION = "us-east-1"
KEY_ID = "quorum-test"
SECRET = "quorum-test-secret"


@dataclass
class S3Server:
    endpoint: str
    bucket: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )

    def env(self) -> dict[str, str]:
        return {
            "S3_BUCKET": self.bucket,
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_REGION": REGION,
            "S3_ACCESS_KEY_ID": KEY_ID,
            "S3_SECRET_ACCESS_KEY": SECRET,
        }

    def object_keys(self, prefix: str = "") -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [entry["Key"] for entry in listed.get("Contents", ())]

    def get(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture(scope="session")
def s3_server():
    from moto.server import ThreadedMotoServer

    # One access-log line per request would bury a failing test's output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(endpoint=f"http://{host}:{port}", bucket=f"quorum-{uuid.uuid4().hex[:12]}")
    s3.client().create_bucket(Bucket=s3.bucket)
    yield s3
    server.stop()


def _use(s3: S3Server, settings) -> None:
    for name, value in s3.env().items():
        setattr(settings, name, value)
    settings.S3_PRESIGNED_DOWNLOADS = False


@pytest.fixture
def s3(s3_server, settings):
    """A fresh bucket, in which this process keeps uploads and exports."""
    bucket = S3Server(endpoint=s3_server.endpoint, bucket=f"quorum-{uuid.uuid4().hex[:12]}")
    bucket.client().create_bucket(Bucket=bucket.bucket)
    _use(bucket, settings)
    return bucket


# --- a worker of its own -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _point_celery_at(url: str) -> None:
    app.conf.broker_url = url
    # kombu keeps pools in a registry by URL: drop the references, never close
    # a pool that the registry would hand out again.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def _storage_broker():
    port = _free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("redis-server for the storage tests did not start") from None
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.kill()
    proc.wait()


@pytest.fixture(scope="session")
def _storage_worker_process(django_db_setup, s3_server, _storage_broker, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("worker")
    env = {
        **os.environ,
        **s3_server.env(),
        "DATABASE_URL": _database_url(),
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": _storage_broker,
        "CELERY_BROKER_URL": _storage_broker,
        "MEDIA_ROOT": str(scratch / "media"),
        "EXPORT_ROOT": str(scratch / "exports"),
    }
    log = open(scratch / "worker.log", "w")  # noqa: SIM115
    proc = worker_process(
        f"storage-{uuid.uuid4().hex[:8]}", env=env, log=log, start_new_session=True
    )
    before = app.conf.broker_url
    _point_celery_at(_storage_broker)
    try:
        wait_for(lambda: proc.poll() is None and app.control.ping(timeout=0.5), timeout=60)
    finally:
        _point_celery_at(before)
    yield proc, scratch
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture
def storage_worker(_storage_worker_process, _storage_broker, s3_server, settings):
    """The worker with the session's bucket, which this process uses too, and
    to which it queues its jobs meanwhile. Returns the worker's scratch folder."""
    _use(s3_server, settings)
    before = app.conf.broker_url
    _point_celery_at(_storage_broker)
    yield _storage_worker_process[1]
    _point_celery_at(before)
