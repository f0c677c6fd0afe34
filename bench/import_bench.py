"""Import benchmark: synthetic Alpaca JSONL through the real import path.

    python bench/import_bench.py            # 10,000 then 100,000 records
    python bench/import_bench.py --n 50000  # one size

Each run writes a JSONL file, creates an ImportJob and queues the Celery task;
a real ``celery -A annotator worker`` process (started here, on its own
database) runs it. Time is measured from queueing until the job is done, so it
includes the broker, parsing, normalising, COPY and the merge into the task
table. The worker's resident memory is sampled every 5 ms with psutil.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://quorum:quorum@127.0.0.1:55432/quorum_bench"
DEFAULT_REDIS = "redis://127.0.0.1:56379/14"


def database_ensure(url: str) -> None:
    """Create the benchmark database if it is missing."""
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def records_write(path: Path, n: int, seed: int) -> None:
    topics = ["a poem", "an email", "a summary", "a recipe", "a haiku", "a bug report"]
    with open(path, "wb") as fh:
        for i in range(n):
            record = {
                "instruction": f"Write {topics[i % len(topics)]} about item {seed}-{i}.",
                "input": f"Item {i} has {i % 97} parts and weighs {i % 13} kg." if i % 3 else "",
                "output": f"Here is {topics[i % len(topics)]} about item {seed}-{i}: "
                + "lorem ipsum " * 8,
            }
            fh.write(orjson.dumps(record) + b"\n")


class PeakRss(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return total

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.005)


def worker_start(env: dict) -> subprocess.Popen:
    from annotator.celery import app

    app.control.purge()
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "annotator", "worker", "--pool=solo",
         "--loglevel=WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-n", f"bench-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the celery worker exited early")
        if app.control.ping(timeout=0.5):
            return proc
    proc.kill()
    raise SystemExit("the celery worker did not answer within 60 s")


def run_one(n: int, workdir: Path, worker_pid: int, seed: int) -> dict:
    from imports.models import ImportJob
    from imports.tasks import import_task_run
    from projects.models import Project, Task

    path = workdir / f"alpaca-{n}-{seed}.jsonl"
    records_write(path, n, seed)
    project = Project.objects.create(
        name=f"bench {n} {seed}", slug=f"bench-{n}-{seed}-{os.getpid()}"
    )
    job = ImportJob.objects.create(
        project=project, file_path=str(path), filename=path.name, size_bytes=path.stat().st_size
    )
    sampler = PeakRss(worker_pid)
    baseline = sampler.rss()
    sampler.start()
    started = time.perf_counter()
    import_task_run.delay(job.pk)
    seen_progress = set()
    while True:
        job.refresh_from_db(fields=["state", "progress"])
        if job.state in {ImportJob.State.DONE, ImportJob.State.FAILED}:
            break
        seen_progress.add(round(job.progress, 2))
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    job.refresh_from_db()
    if job.state != ImportJob.State.DONE:
        raise SystemExit(f"the import failed: {job.message}")
    stored = Task.objects.filter(project=project).count()
    path.unlink()
    # Leave the benchmark database as small as it was, so runs stay comparable.
    Task.objects.filter(project=project)._raw_delete(Task.objects.db)
    ImportJob.objects.filter(project=project).delete()
    project.delete()
    return {
        "n": n,
        "seconds": elapsed,
        "records_per_s": n / elapsed,
        "created": job.created_count,
        "stored": stored,
        "errors": job.error_count,
        "progress_steps": len(seen_progress - {0.0}),
        "rss_before_mb": baseline / 2**20,
        "rss_peak_mb": sampler.peak / 2**20,
        "mb": path.stat().st_size / 2**20 if path.exists() else job.size_bytes / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=int, action="append", help="records (repeatable); default 10k and 100k"
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    sizes = args.n or [10_000, 100_000]

    os.environ.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        DJANGO_SETTINGS_MODULE="annotator.settings",
        DB_CONN_MAX_AGE="0",
    )
    sys.path.insert(0, str(ROOT))
    database_ensure(args.database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )
    import django

    django.setup()
    proc = worker_start(dict(os.environ))
    try:
        print(
            f"{'records':>9} {'seconds':>8} {'records/s':>10} {'created':>8}"
            f" {'worker RSS before':>18} {'peak':>8} {'progress':>9}"
        )
        with tempfile.TemporaryDirectory() as tmp:
            for seed, n in enumerate(sizes):
                r = run_one(n, Path(tmp), proc.pid, seed=int(time.time()) * 10 + seed)
                print(
                    f"{r['n']:>9,} {r['seconds']:>8.2f} {r['records_per_s']:>10,.0f}"
                    f" {r['created']:>8,}"
                    f" {r['rss_before_mb']:>15.0f} MB {r['rss_peak_mb']:>5.0f} MB"
                    f" {r['progress_steps']:>9}",
                    flush=True,
                )
                assert r["created"] == r["stored"] == n, r
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
