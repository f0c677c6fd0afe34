"""Writes for exports: create an export, build its file, announce it; manage tokens.

An export is built from one REPEATABLE READ snapshot on a connection of its
own, streamed through a server-side cursor into a temporary file that is
fsynced and renamed into place (or uploaded to the bucket) only when
complete. Progress goes through the ordinary Django connection (autocommit)
so the page can show it meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import queue
import secrets
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from psycopg.adapt import Loader
from psycopg.types.json import set_json_loads

from agreement.models import AgreementSnapshot, Resolution
from projects import questions as question_types
from projects.models import Annotation, AnnotationRevision, Project
from web import files, jobs, rows

from . import formats, sql
from .models import Export, ExportToken, token_hash
from .storage import export_discard, export_path, export_store

log = logging.getLogger(__name__)

CHUNK_ROWS = 2_000
PROGRESS_EVERY_S = 0.5
STREAM_MAXLEN = 10_000
# An answer stamped just before a snapshot started may have committed after the
# snapshot read the answers; such a snapshot is not trusted to hold it.
COMMIT_MARGIN = timedelta(seconds=5)
GOLD_CHOICES = ("include", "exclude", "only")
SPLITS = ("train", "validation")
DEFAULT_FILTERS: dict[str, Any] = {
    "reviewed_only": False,
    "include_incomplete": False,
    "min_agreement": None,
    "min_annotator_quality": None,
    "gold": "include",
    "split": None,
    "validation_ratio": 0.1,
    "seed": "quorum",
    "question": None,
}


class ExportRetry(Exception):
    """A transient failure (the database went away); the job should run again."""


# --- filters ---------------------------------------------------------------


def export_filters_clean(*, filters: Any, project: Project, format: str) -> dict[str, Any]:
    """Validate and complete ``filters``; raise ValidationError naming each bad field."""
    if filters is None:
        filters = {}
    if not isinstance(filters, dict):
        raise ValidationError({"filters": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(filters) - set(DEFAULT_FILTERS))
    if unknown:
        errors["filters"] = [
            f"unknown filter(s): {', '.join(unknown)}; known: {', '.join(DEFAULT_FILTERS)}"
        ]
    clean = {**DEFAULT_FILTERS, **{k: v for k, v in filters.items() if k in DEFAULT_FILTERS}}

    def number(key: str, lo: float, hi: float, *, open_ends: bool = False) -> None:
        value = clean[key]
        if value is None and key != "validation_ratio":
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors[f"filters.{key}"] = [f"must be a number between {lo} and {hi}"]
        elif not (lo < value < hi if open_ends else lo <= value <= hi):
            errors[f"filters.{key}"] = [f"must be between {lo} and {hi}, got {value}"]
        else:
            clean[key] = float(value)

    for key in ("reviewed_only", "include_incomplete"):
        if not isinstance(clean[key], bool):
            errors[f"filters.{key}"] = ["must be true or false"]
    number("min_agreement", -1.0, 1.0)
    number("min_annotator_quality", 0.0, 1.0)
    number("validation_ratio", 0.0, 1.0, open_ends=True)
    if clean["gold"] not in GOLD_CHOICES:
        errors["filters.gold"] = [f"must be one of {', '.join(GOLD_CHOICES)}"]
    if clean["split"] in ("", "all"):
        clean["split"] = None
    if clean["split"] is not None and clean["split"] not in SPLITS:
        errors["filters.split"] = ["must be train, validation or null"]
    if isinstance(clean["seed"], int) and not isinstance(clean["seed"], bool):
        clean["seed"] = str(clean["seed"])
    if not isinstance(clean["seed"], str) or not clean["seed"]:
        errors["filters.seed"] = ["must be a non-empty string"]
    question = clean["question"]
    if question in ("", None):
        clean["question"] = None
    else:
        wanted = question_types.yielding(formats.YIELDS[format]) if format in formats.YIELDS else ()
        q = project.question(question) if isinstance(question, str) else None
        if q is None or q.get("type") not in wanted:
            errors["filters.question"] = [
                f"no {' or '.join(wanted) or 'usable'} question named {question!r} in the project"
            ]
    if errors:
        raise ValidationError(errors)
    return clean


# --- create and run ----------------------------------------------------------


def export_create(*, project: Project, user, format: str, filters: Any = None) -> Export:
    """Record a queued export and queue its job after the transaction commits."""
    from .tasks import export_build

    if format not in formats.FORMATS:
        raise ValidationError({"format": [f"must be one of {', '.join(formats.FORMATS)}"]})
    clean = export_filters_clean(filters=filters, project=project, format=format)
    with transaction.atomic():
        export = Export.objects.create(
            project=project,
            format=format,
            filters=clean,
            schema=project.questions,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        jobs.enqueue_job(Export, export_build, export.pk)
    return export


def export_run(*, export_id: int) -> Export | None:
    """Build the export's file; idempotent (a finished export is left alone).

    Only a queued export, or one whose worker died, is claimed
    (``jobs.claim``): a message delivered twice never builds it twice at once.
    Side effects: writes ``EXPORT_ROOT/<project>/export-<id>-<nonce>.jsonl``
    (through a ``.part`` file renamed when whole) or, with a bucket, uploads
    the whole file as ``exports/<project>/export-<id>-<nonce>.jsonl``
    (exports/storage.py); touches ``heartbeat_at`` while it runs, updates the
    Export row, announces a ready export on the Redis stream (and the webhook
    when configured). Raises ExportRetry for transient failures.
    """
    if not jobs.claim(Export, export_id):
        export = Export.objects.filter(pk=export_id).first()
        if export is None:  # deleted (with its project) before the job ran
            log.warning("export %s no longer exists", export_id)
        return export
    export = Export.objects.select_related("project").get(pk=export_id)
    final = export_path(export)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Leftovers of an attempt that died are never served: only the final name is.
    for stale in final.parent.glob(f"{final.name}.part-*"):
        stale.unlink(missing_ok=True)
    Export.objects.filter(pk=export.pk).update(error="")
    tmp = final.with_name(f"{final.name}.part-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with jobs.Heartbeat(Export, export.pk):
            tmp.touch()  # the attempt's file exists from its start (and is never served)
            agreement_bring_up_to_date(project_id=export.project_id)
            # An upload reads the file back: no fsync needed before it.
            rows, size, sha, excluded = _write(export, tmp, durable=not files.s3_enabled())
            file_path = export_store(export, tmp)
    except psycopg.OperationalError as exc:
        tmp.unlink(missing_ok=True)
        Export.objects.filter(pk=export.pk).update(state=Export.State.QUEUED, error=str(exc)[:2000])
        raise ExportRetry(str(exc)) from exc
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        export_discard(export)
        log.exception("export %s failed", export.pk)
        Export.objects.filter(pk=export.pk).update(
            state=Export.State.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        export.refresh_from_db()
        return export
    Export.objects.filter(pk=export.pk).update(
        state=Export.State.READY,
        progress=1.0,
        row_count=rows,
        excluded=excluded,
        bytes=size,
        sha256=sha,
        file_path=file_path,
        finished_at=timezone.now(),
    )
    export.refresh_from_db()
    export_announce(export=export)
    return export


class FragmentLoader(Loader):
    """jsonb passed through as already-encoded JSON: the annotations format
    copies task data and values verbatim, so parsing them would be wasted work."""

    def load(self, data):
        return orjson.Fragment(bytes(data))


def _connect(*, passthrough_json: bool = False) -> psycopg.Connection:
    conn = rows.connect(autocommit=False)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    set_json_loads(orjson.loads, conn)
    if passthrough_json:
        conn.adapters.register_loader("jsonb", FragmentLoader)
    return conn


def agreement_bring_up_to_date(*, project_id: int) -> AgreementSnapshot | None:
    """Recompute the project's consensus when answers changed since the latest snapshot.

    An export must hold every answer committed before it started, so a stale
    snapshot (an annotation, revision or resolution newer than its
    ``computed_at``, within ``COMMIT_MARGIN``) is replaced first. Returns the
    new snapshot, or None when the latest one was fresh.
    """
    latest = (
        AgreementSnapshot.objects.filter(project_id=project_id)
        .order_by("-computed_at")
        .values_list("computed_at", flat=True)
        .first()
    )
    if latest is not None:
        since = latest - COMMIT_MARGIN
        changed = (
            Annotation.objects.filter(project_id=project_id, updated_at__gte=since).exists()
            or AnnotationRevision.objects.filter(
                annotation__project_id=project_id, replaced_at__gte=since
            ).exists()
            or Resolution.objects.filter(
                task__project_id=project_id, updated_at__gte=since
            ).exists()
        )
        if not changed:
            return None
    elif not Annotation.objects.filter(project_id=project_id).exists():
        return None
    # Imported here: the agreement computation loads NumPy and SciPy, which an
    # export with a fresh snapshot never needs.
    from agreement.services import agreement_snapshot_create

    return agreement_snapshot_create(project_id=project_id)


def annotator_quality(project_id: int) -> dict[int, float]:
    """Quality per annotator id from the project's latest agreement snapshot."""
    snapshot = (
        AgreementSnapshot.objects.filter(project_id=project_id).order_by("-computed_at").first()
    )
    if snapshot is None:
        return {}
    out: dict[int, float] = {}
    for row in (snapshot.data or {}).get("annotators") or []:
        if isinstance(row, dict) and row.get("annotator_id") is not None:
            quality = row.get("quality")
            if isinstance(quality, int | float) and not isinstance(quality, bool):
                out[int(row["annotator_id"])] = float(quality)
    return out


def export_rows(
    export: Export, conn: psycopg.Connection, excluded: Counter | None = None
) -> Iterator[tuple[int, int, dict]]:
    """Yield (position, total, line) for every line of the export, inside ``conn``'s snapshot.

    ``excluded`` is filled with the number of tasks left out, by reason.
    """
    excluded = Counter() if excluded is None else excluded
    filters = {**DEFAULT_FILTERS, **(export.filters or {})}
    quality = annotator_quality(export.project_id)
    ctx = formats.Context(
        project_id=export.project_id,
        questions=export.schema or [],
        secret=settings.SECRET_KEY,
        question=filters["question"],
        quality=quality,
        include_incomplete=filters["include_incomplete"],
    )
    select, params, count_sql, count_params = sql.export_query(
        project_id=export.project_id, format=export.format, filters=filters, quality=quality
    )
    formatter = formats.FORMATTERS[export.format]
    per_annotation = export.format == "annotations"
    columns = (*sql.TASK_COLUMNS, "annotations") if per_annotation else sql.TASK_COLUMNS
    kind = formats.YIELDS.get(export.format)
    split, ratio, seed = filters["split"], filters["validation_ratio"], filters["seed"]
    with conn.cursor() as count_cursor:
        for setting in sql.THROUGHPUT_SETTINGS:
            count_cursor.execute(setting)
        count_cursor.execute(count_sql, count_params)
        counts = dict(count_cursor.fetchall())
    total = counts.pop("", 0)
    excluded.update({reason: n for reason, n in counts.items() if n})
    with conn.cursor(name=f"export_{export.pk}") as cursor:
        cursor.execute(select, params)
        for position, values in enumerate(_prefetched(cursor), start=1):
            row = dict(zip(columns, values, strict=True))
            if split is not None and formats.split_of(row["id"], ratio=ratio, seed=seed) != split:
                excluded["split"] += 1
                continue
            lines = 0
            if per_annotation:
                for annotation in row.pop("annotations") or ():
                    row.update(zip(sql.ANNOTATION_FIELDS, annotation, strict=True))
                    for line in formatter(row, ctx):
                        lines += 1
                        yield position, total, line
            else:
                for line in formatter(row, ctx):
                    lines += 1
                    yield position, total, line
            if not lines:
                excluded[formats.left_out_reason(row, ctx, kind)] += 1


def _prefetched(cursor) -> Iterator[tuple]:
    """The cursor's rows, fetched a chunk ahead by a thread.

    The server prepares the next chunk while this thread formats the current
    one; the bounded queue keeps at most a few chunks in memory.
    """
    chunks: queue.Queue = queue.Queue(maxsize=2)
    done = object()
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set() and (rows := cursor.fetchmany(CHUNK_ROWS)):
                chunks.put(rows)
            chunks.put(done)
        except BaseException as exc:  # handed to the consuming thread
            chunks.put(exc)

    thread = threading.Thread(target=fetch, name="export-prefetch", daemon=True)
    thread.start()
    try:
        while (chunk := chunks.get()) is not done:
            if isinstance(chunk, BaseException):
                raise chunk
            yield from chunk
    finally:
        # Stop and drain so that the fetching thread never blocks on a full queue.
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.1)
        thread.join()


def _write(
    export: Export, tmp: Path, *, durable: bool = True
) -> tuple[int, int, str, dict[str, int]]:
    digest = hashlib.sha256()
    excluded: Counter = Counter()
    rows = size = 0
    last = time.monotonic()
    dumps = orjson.dumps
    passthrough = export.format == "annotations"
    with (
        _connect(passthrough_json=passthrough) as conn,
        conn.transaction(),
        open(tmp, "wb", buffering=1 << 20) as out,
    ):
        for position, total, line in export_rows(export, conn, excluded):
            data = dumps(line) + b"\n"
            digest.update(data)
            out.write(data)
            rows += 1
            size += len(data)
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY_S:
                last = now
                Export.objects.filter(pk=export.pk).update(
                    progress=min(position / max(total, 1), 0.99)
                )
        out.flush()
        if durable:
            os.fsync(out.fileno())
    return rows, size, digest.hexdigest(), dict(sorted(excluded.items()))


# --- announcing a ready export ----------------------------------------------


def export_manifest(export: Export) -> dict[str, Any]:
    return {
        "export_id": export.pk,
        "project_id": export.project_id,
        "format": export.format,
        "rows": export.row_count,
        "bytes": export.bytes,
        "sha256": export.sha256,
        "download": reverse("api:export-download", kwargs={"pk": export.pk}),
        "filters": export.filters,
        "excluded": export.excluded,
        "finished_at": export.finished_at.isoformat() if export.finished_at else None,
    }


def export_announce(*, export: Export) -> None:
    """XADD the manifest to settings.EXPORT_STREAM; POST it to the webhook when set.

    A failed announcement is logged and does not undo the export: consumers can
    always poll ``exports/latest/``.
    """
    manifest = export_manifest(export)
    fields = {
        k: orjson.dumps(v).decode() if isinstance(v, dict) else str(v) for k, v in manifest.items()
    }
    try:
        client = redis.Redis.from_url(settings.REDIS_URL)
        client.xadd(settings.EXPORT_STREAM, fields, maxlen=STREAM_MAXLEN, approximate=True)
    except redis.RedisError:
        log.exception("could not announce export %s on %s", export.pk, settings.EXPORT_STREAM)
    if settings.EXPORT_WEBHOOK_URL:
        export_webhook_send(manifest=manifest)


def webhook_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def export_webhook_send(*, manifest: dict) -> bool:
    body = orjson.dumps({"event": "export.ready", **manifest})
    request = urllib.request.Request(
        settings.EXPORT_WEBHOOK_URL,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Quorum-Event": "export.ready",
            "X-Quorum-Signature": webhook_signature(body, settings.EXPORT_WEBHOOK_SECRET),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 200 <= response.status < 300
    except OSError:
        log.exception("export webhook to %s failed", settings.EXPORT_WEBHOOK_URL)
        return False


# --- tokens ------------------------------------------------------------------


def export_token_create(*, project: Project, user, name: str) -> tuple[ExportToken, str]:
    """Create a token; the raw value is returned once and only its hash is kept."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["give the token a name, e.g. the training job's"]})
    if len(name) > 100:
        raise ValidationError({"name": ["at most 100 characters"]})
    raw = ExportToken.PREFIX + secrets.token_urlsafe(32)
    token = ExportToken.objects.create(
        project=project,
        name=name,
        key_hash=token_hash(raw),
        key_prefix=raw[:12],
        created_by=user,
    )
    return token, raw


def export_token_revoke(*, token: ExportToken) -> ExportToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
