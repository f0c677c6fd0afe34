"""Importing tasks: files (as a Celery job) and small batches (synchronously).

Both paths normalise records to the canonical task, classify them against the
project's existing ids and content hashes (read once, under a per-project
advisory lock) and store the new ones with PostgreSQL COPY in chunks, all in
one transaction: the cost per row is a few microseconds of Python and no
query of its own, and a file that fails as a whole leaves nothing behind.

Counts:
- created: new tasks stored;
- unchanged: the same external_id with the same content is already there;
- duplicates: the same content already exists under another external_id, or
  the record repeats an earlier one of the same file;
- errors: records that could not be imported (line number and reason); the
  rest of the file is still imported. An external_id that already exists with
  different content is such an error.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from imports.models import ImportJob
from projects.models import Project
from projects.services import task_words_fill
from web import files, jobs, rows
from web.input import BadInput, maybe_unsafe, tree_check

from . import cleanup, shapes, sql

log = logging.getLogger(__name__)

CHUNK_ROWS = 5000
ERRORS_KEPT = 200
SNIFF_BYTES = 64 * 1024

csv.field_size_limit(sys.maxsize)


GONE = "The uploaded file is gone; upload it again."


class ImportFailed(Exception):
    """The file as a whole cannot be imported; nothing is written."""


@dataclass
class Counts:
    lines: int = 0
    created: int = 0
    unchanged: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors: list[dict] = field(default_factory=list)

    def error(self, line: int, reason: str, key: str = "line") -> None:
        self.error_count += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append({key: line, "reason": reason})


# --- reading files --------------------------------------------------------------

# (line or item number, parsed record or None, error reason or None)
Item = tuple[int, object, str | None]


def file_format(path: Path, filename: str = "") -> str:
    """``json`` (one array), ``jsonl`` or ``csv``, from the first bytes and the name."""
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    stripped = head.lstrip()
    if not stripped:
        raise ImportFailed("The file is empty.")
    if stripped[:1] == b"[":
        return "json"
    if stripped[:1] == b"{":
        return "jsonl"
    name = (filename or path.name).lower()
    try:
        # The sniffed head may end inside a multi-byte character.
        text = head.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            raise ImportFailed(_not_utf8(1)) from None
        text = head[: exc.start].decode("utf-8")
    first_line = text.splitlines()[0] if text.splitlines() else ""
    if name.endswith(".csv") or name.endswith(".tsv") or ("," in first_line and "\x00" not in text):
        return "csv"
    raise ImportFailed(
        "The file is not JSON, JSONL or CSV: it must start with [ (a JSON array), "
        "{ (one JSON object a line) or a CSV header row."
    )


def _not_utf8(line: int) -> str:
    return f"The file is not UTF-8 text (line {line}); save it as UTF-8 and upload it again."


def _record_problem(record: object) -> str | None:
    """Why a parsed record cannot be stored (a NUL, a lone surrogate, too deep), or None."""
    try:
        tree_check(record)
    except BadInput as exc:
        return str(exc)
    return None


def read_jsonl(path: Path, on_progress: Callable[[float], None]) -> Iterator[Item]:
    size = max(path.stat().st_size, 1)
    done = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            done += len(raw)
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise ImportFailed(_not_utf8(number)) from None
                yield number, None, f"not valid JSON: {exc.msg}"
                continue
            # Most lines cannot hold a NUL or deep nesting: only those that may are walked.
            problem = _record_problem(record) if maybe_unsafe(raw) else None
            yield number, None if problem else record, problem
            if number % CHUNK_ROWS == 0:
                on_progress(done / size)


def read_json_array(path: Path, on_progress: Callable[[float], None]) -> Iterator[Item]:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportFailed(_not_utf8(raw[: exc.pos].count(b"\n") + 1)) from None
        raise ImportFailed(f"The file is not valid JSON (line {exc.lineno}): {exc.msg}") from None
    del raw
    if not isinstance(document, list):
        raise ImportFailed("A JSON file must hold an array of records.")
    total = max(len(document), 1)
    for number, record in enumerate(document, start=1):
        problem = _record_problem(record)
        yield number, None if problem else record, problem
        if number % CHUNK_ROWS == 0:
            on_progress(number / total)


def read_csv(path: Path, on_progress: Callable[[float], None]) -> Iterator[Item]:
    size = max(path.stat().st_size, 1)
    done = 0
    state = {"line": 0}

    def lines() -> Iterator[str]:
        nonlocal done
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                done += len(raw)
                state["line"] = number
                try:
                    yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    raise ImportFailed(_not_utf8(number)) from None

    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    reader = csv.reader(lines(), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed("The CSV file is empty.") from None
    except csv.Error as exc:
        raise ImportFailed(f"The CSV header cannot be read: {exc}") from None
    header = [name.strip() for name in header]
    if not any(header) or len(set(header)) != len(header):
        raise ImportFailed("The CSV header must name every column once.")
    start = state["line"] + 1
    count = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield start, None, f"not valid CSV: {exc}"
            start = state["line"] + 1
            continue
        line, start = start, state["line"] + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield line, None, f"has {len(row)} columns, the header has {len(header)}"
            continue
        # An empty cell is a missing value, as spreadsheets write them.
        record = {k: v for k, v in zip(header, row, strict=True) if v != ""}
        problem = _record_problem(record)
        yield line, None if problem else record, problem
        count += 1
        if count % CHUNK_ROWS == 0:
            on_progress(done / size)


READERS = {"jsonl": read_jsonl, "json": read_json_array, "csv": read_csv}


# --- loading into the database ---------------------------------------------------


def task_key(task: shapes.Normalised) -> tuple[bytes, str, str]:
    """The stored JSON, its content hash and the task's external_id.

    The JSON and the hash come from the same bytes, so the hash is exactly
    ``task_content_hash(data)``.
    """
    blob = orjson.dumps(task.data, option=orjson.OPT_SORT_KEYS)
    content_hash = hashlib.sha256(blob).hexdigest()
    return blob, content_hash, task.external_id or f"sha256:{content_hash[:24]}"


class _Loader:
    """Classifies normalised rows and stores the new ones with COPY, chunk by
    chunk, inside the caller's transaction.

    Imports into one project take turns (an advisory lock), so the project's
    ids and hashes, read once at the start, plus those this import stored, are
    all a row has to be checked against: no query per row or per chunk, and no
    dependence on planner statistics of a table that grows during the import.

    With ``threaded`` the COPY runs in a second thread (libpq waits release the
    GIL), so PostgreSQL stores one chunk while Python parses the next; the
    connection is used by that one thread only meanwhile.
    """

    def __init__(
        self,
        *,
        project_id: int,
        counts: Counts,
        error_key: str = "line",
        threaded: bool = False,
        keys: tuple[list[str], list[str]] | None = None,
        import_id: int | None = None,
    ):
        self.project_id = project_id
        self.counts = counts
        self.error_key = error_key
        self.rows: list[tuple] = []
        self.copy_sql, self.defaults = sql.task_copy(import_id)
        self.cursor = rows.cursor()
        self.cursor.execute(sql.PROJECT_LOCK, (sql.PROJECT_LOCK_CLASS, project_id))
        # external_id -> content hash, for tasks stored before this import and
        # for the records this import has seen (a repeat is a duplicate).
        self.before: dict[str, str] = {}
        self.before_hashes: set[str] = set()
        if keys is None:
            self.cursor.execute(sql.TASK_KEYS, (project_id,))
        else:
            # A small batch looks up only its own ids and hashes.
            ids, hashes = keys
            self.cursor.execute(sql.BATCH_TASK_KEYS, (project_id, ids, hashes))
        for external_id, content_hash in self.cursor:
            self.before[external_id] = content_hash
            self.before_hashes.add(content_hash)
        self.mine: dict[str, str] = {}
        self.mine_hashes: set[str] = set()
        self.queue: queue.Queue | None = None
        self.thread: threading.Thread | None = None
        self.failure: BaseException | None = None
        self.used_shape: str | None = None
        self.max_bytes = settings.MAX_TASK_BYTES
        if threaded:
            self.queue = queue.Queue(maxsize=2)
            self.thread = threading.Thread(target=self._drain, name="import-loader", daemon=True)
            self.thread.start()

    def add(self, line: int, task: shapes.Normalised) -> None:
        blob, content_hash, external_id = task_key(task)
        counts = self.counts
        if self.max_bytes and len(blob) > self.max_bytes:
            counts.error(
                line,
                f"data: {len(blob):,} bytes, more than the limit of {self.max_bytes:,} "
                "(MAX_TASK_BYTES)",
                self.error_key,
            )
            return
        # Seen earlier in this same file: a repeat is a duplicate, on the
        # first import and on every re-import alike. An id derived from the
        # content needs no entry of its own: its hash says it all.
        derived = task.external_id is None
        if derived:
            if content_hash in self.mine_hashes:
                counts.duplicates += 1
                return
        else:
            stored = self.mine.get(external_id)
            if stored is not None:
                if stored != content_hash:
                    self._conflict(line, external_id)
                else:
                    counts.duplicates += 1
                return
        stored = self.before.get(external_id)
        if stored is not None:
            if stored != content_hash:
                self._conflict(line, external_id)
            else:
                counts.unchanged += 1
                self._seen(external_id, content_hash, derived)
            return
        if content_hash in self.before_hashes or content_hash in self.mine_hashes:
            counts.duplicates += 1
            return
        self._seen(external_id, content_hash, derived)
        gold = orjson.dumps(task.gold).decode() if task.gold is not None else None
        self.rows.append(
            (self.project_id, external_id, blob.decode(), content_hash, task.is_gold, gold)
        )
        counts.created += 1
        if len(self.rows) >= CHUNK_ROWS:
            self._hand_over()

    def _seen(self, external_id: str, content_hash: str, derived: bool) -> None:
        if not derived:
            self.mine[external_id] = content_hash
        self.mine_hashes.add(content_hash)

    def _conflict(self, line: int, external_id: str) -> None:
        self.counts.error(
            line,
            f"external_id {external_id!r} already exists with different content",
            self.error_key,
        )

    def _hand_over(self) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        if self.queue is None:
            self._store(rows)
            return
        if self.failure is not None:
            raise self.failure
        self.queue.put(rows)

    def _drain(self) -> None:
        assert self.queue is not None
        while (rows := self.queue.get()) is not None:
            if self.failure is not None:
                continue
            try:
                self._store(rows)
            except BaseException as exc:
                self.failure = exc

    def _store(self, rows: list[tuple]) -> None:
        defaults = self.defaults
        with self.cursor.copy(self.copy_sql) as copy:
            for row in rows:
                copy.write_row(row + defaults)

    def finish(self) -> None:
        """Store what is left and wait for the loader thread."""
        self._hand_over()
        if self.thread is not None:
            assert self.queue is not None
            self.queue.put(None)
            self.thread.join()
            if self.failure is not None:
                raise self.failure

    def abandon(self) -> None:
        """Stop the loader thread after a failure (the transaction rolls back)."""
        if self.thread is not None and self.thread.is_alive():
            assert self.queue is not None
            self.failure = self.failure or ImportFailed("abandoned")
            self.queue.put(None)
            self.thread.join()


# --- progress, written beside the import transaction ---------------------------


class _ProgressWriter:
    """Writes progress on its own connection, so the page sees it while the
    import transaction is still open. Best effort: a failure only loses a tick."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.conn: psycopg.Connection | None = None

    def __call__(self, progress: float, lines: int) -> None:
        try:
            if self.conn is None:
                self.conn = rows.connect(autocommit=True)
                # Never wait on a row this process itself has locked.
                self.conn.execute(sql.PROGRESS_LOCK_TIMEOUT)
            self.conn.execute(sql.PROGRESS, (min(progress, 0.99), lines, self.job_id))
        except psycopg.Error:
            log.warning("import %s: progress not written", self.job_id, exc_info=True)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


# --- services --------------------------------------------------------------------


def _normaliser(*, shape: str, mapping: dict | None) -> Callable[[dict], shapes.Normalised] | None:
    if shape not in shapes.SHAPES:
        raise ImportFailed(
            f"Unknown shape {shape!r}; use one of {', '.join(sorted(shapes.SHAPES))}."
        )
    if mapping or shape == shapes.MAPPING:
        try:
            return shapes.mapping_normaliser(mapping or {})
        except ValueError as exc:
            raise ImportFailed(str(exc)) from None
    if shape == shapes.AUTO:
        return None
    return shapes.NORMALISERS[shape]


def import_file(
    *,
    project: Project,
    path: Path,
    filename: str = "",
    shape: str = shapes.AUTO,
    mapping: dict | None = None,
    on_progress: Callable[[float, int], None] | None = None,
    on_loaded: Callable[[Counts, str], None] | None = None,
    import_id: int | None = None,
) -> tuple[Counts, str]:
    """Import one file into the project in a single transaction.

    Returns the counts and the shape used. Raises ``ImportFailed`` (and writes
    nothing) when the file as a whole cannot be read. ``on_loaded(counts,
    shape)`` runs inside the transaction, after the last row: what it writes
    commits together with the tasks, or not at all. The tasks it stores record
    ``import_id`` (the job's id); a duplicate it skips keeps the import it came with.
    """
    path = Path(path)
    if not path.exists():
        raise ImportFailed(GONE)
    counts = Counts()
    normalise = _normaliser(shape=shape, mapping=mapping)
    used_shape = shapes.MAPPING if (mapping or shape == shapes.MAPPING) else shape
    fmt = file_format(path, filename)
    progress = on_progress or (lambda fraction, lines: None)
    with transaction.atomic():
        loader = _Loader(project_id=project.pk, counts=counts, threaded=True, import_id=import_id)
        try:
            _read_into(loader, READERS[fmt], path, fmt, normalise, counts, progress)
        except BaseException:
            loader.abandon()
            raise
        loader.finish()
        if on_loaded is not None:
            on_loaded(counts, loader.used_shape or used_shape)
    return counts, loader.used_shape or used_shape


def _read_into(
    loader: _Loader,
    reader: Callable,
    path: Path,
    fmt: str,
    normalise: Callable[[dict], shapes.Normalised] | None,
    counts: Counts,
    progress: Callable[[float, int], None],
) -> None:
    """Parse and normalise every record of the file and hand it to the loader."""
    parsed = 0
    for line, record, problem in reader(path, lambda fraction: progress(fraction, counts.lines)):
        counts.lines += 1
        if problem is not None:
            counts.error(line, problem)
            continue
        parsed += 1
        if not isinstance(record, dict):
            counts.error(line, f"expected a JSON object, got {type(record).__name__}")
            continue
        if normalise is None:
            detected = shapes.detect_shape(record)
            if detected is None:
                raise ImportFailed(
                    f"Line {line}: cannot tell the shape from the fields "
                    f"{', '.join(sorted(record)) or '(none)'}; "
                    "choose a shape or give a mapping."
                )
            if fmt == "csv" and detected in {shapes.OPENAI, shapes.SHAREGPT, shapes.CANONICAL}:
                raise ImportFailed(
                    f"A CSV file cannot hold the {detected} shape; give a mapping instead."
                )
            loader.used_shape, normalise = detected, shapes.NORMALISERS[detected]
        try:
            task = normalise(record)
        except shapes.RecordError as exc:
            counts.error(line, str(exc))
            continue
        loader.add(line, task)
    if parsed == 0 and counts.error_count:
        raise ImportFailed(
            f"No line of the file could be read as {fmt.upper()} "
            f"(line {counts.errors[0]['line']}: {counts.errors[0]['reason']})."
        )


def import_run(*, job_id: int) -> ImportJob | None:
    """Run an import job: read its file, store the tasks, record counts.

    Safe to run again (a resent or redelivered message): only a queued job, or
    one whose worker died, is claimed (``jobs.claim``), so a job never runs
    twice at once; a finished job is left alone. A run that dies leaves nothing
    behind, because the tasks and the job's ``done`` share one transaction;
    the next run starts from scratch. While it runs, ``heartbeat_at`` is
    touched so that the sweeper can tell a dead worker. An upload in the
    bucket is downloaded to a temporary file first. When the job ends, done
    or failed, its upload is removed; a run that dies keeps it for the retry.
    None if the job is gone.
    """
    if not jobs.claim(ImportJob, job_id):
        return ImportJob.objects.filter(pk=job_id).first()
    job = ImportJob.objects.select_related("project").get(pk=job_id)
    writer = _ProgressWriter(job.pk)

    def done(counts: Counts, used_shape: str) -> None:
        job.detected_shape = used_shape
        _finish(job, state=ImportJob.State.DONE, counts=counts)

    try:
        with jobs.Heartbeat(ImportJob, job.pk), files.local_copy(job.file_path) as path:
            import_file(
                project=job.project,
                path=path,
                filename=job.filename,
                shape=job.shape,
                mapping=job.mapping or None,
                on_progress=writer,
                on_loaded=done,
                import_id=job.pk,
            )
    except files.FileGone:
        _finish(job, state=ImportJob.State.FAILED, message=GONE)
    except ImportFailed as exc:
        _finish(job, state=ImportJob.State.FAILED, message=str(exc))
    except IntegrityError:
        # Another writer stored a task with the same id or content meanwhile.
        _finish(
            job,
            state=ImportJob.State.FAILED,
            message="Tasks were added to the project while the import ran; "
            "nothing was imported. Run the import again.",
        )
    except Exception as exc:
        _finish(
            job,
            state=ImportJob.State.FAILED,
            message=f"The import failed unexpectedly ({type(exc).__name__}).",
        )
        cleanup.upload_discard(job.file_path)
        raise
    finally:
        writer.close()
    cleanup.upload_discard(job.file_path)
    if job.state == ImportJob.State.DONE and job.created_count:
        # After the job is done, not within it: the search index's cost stays
        # out of the import (docs/agreement.md, "Task browser").
        task_words_fill(project_id=job.project_id)
    return job


def _finish(job: ImportJob, *, state: str, counts: Counts | None = None, message: str = "") -> None:
    counts = counts or Counts()
    job.state = state
    job.message = message
    job.progress = 1.0 if state == ImportJob.State.DONE else job.progress
    job.lines = counts.lines
    job.created_count = counts.created
    job.unchanged_count = counts.unchanged
    job.duplicate_count = counts.duplicates
    job.error_count = counts.error_count
    job.errors = counts.errors
    job.finished_at = timezone.now()
    job.save()


def import_job_create(
    *,
    project: Project,
    user,
    file_path: Path | str,
    filename: str,
    size_bytes: int,
    shape: str = shapes.AUTO,
    mapping: dict | None = None,
) -> ImportJob:
    """Record an import job and queue it once the surrounding transaction commits."""
    from .tasks import import_task_run

    job = ImportJob.objects.create(
        project=project,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        file_path=str(file_path),
        filename=filename[:255],
        size_bytes=size_bytes,
        shape=shape,
        mapping=mapping or {},
    )
    jobs.enqueue_job(ImportJob, import_task_run, job.pk)
    return job


def task_batch_import(*, project: Project, records: list) -> dict:
    """Import a small batch of canonical tasks at once, in one transaction.

    Returns ``{"created", "unchanged", "duplicates", "error_count", "errors"}``
    where ``errors`` maps the array index of each refused item to its reason.
    """
    counts = Counts()
    tasks: list[tuple[int, shapes.Normalised]] = []
    for index, record in enumerate(records):
        counts.lines += 1
        if not isinstance(record, dict):
            counts.error(index, "expected an object", "index")
            continue
        try:
            tasks.append((index, shapes.normalise_canonical(record)))
        except shapes.RecordError as exc:
            counts.error(index, str(exc), "index")
    keys = [task_key(task) for _, task in tasks]
    with transaction.atomic():
        loader = _Loader(
            project_id=project.pk,
            counts=counts,
            error_key="index",
            keys=([key[2] for key in keys], [key[1] for key in keys]),
        )
        for index, task in tasks:
            loader.add(index, task)
        loader.finish()
    if counts.created:
        task_words_fill(project_id=project.pk)
    counts.errors.sort(key=lambda error: error["index"])
    return {
        "created": counts.created,
        "unchanged": counts.unchanged,
        "duplicates": counts.duplicates,
        "error_count": counts.error_count,
        "errors": {item["index"]: item["reason"] for item in counts.errors},
    }
