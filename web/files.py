"""Where uploads and export files live: local disk, or an S3-compatible bucket.

A job row names its file by a reference (its ``file_path``): an absolute
local path, or ``s3://<bucket>/<key>`` when the file was stored while
``S3_BUCKET`` was set. Web processes and workers on different hosts share no
disk, so with a bucket every file a job reads or serves goes through it
(django-storages' ``S3Storage`` on boto3). Local disk stays the default, and
its callers keep their fast paths (rename into place, ``FileResponse``).

An object is only ever written whole: the file is complete on local disk
before it is uploaded, and S3 shows an object only once its upload (multipart
included) has completed, so a killed upload leaves no object behind.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from rest_framework.exceptions import APIException

S3_SCHEME = "s3://"


class FileGone(Exception):
    """The referenced file or object does not exist (any more)."""


class StorageUnavailable(APIException):
    """The bucket cannot be reached or refused the request: try again later."""

    status_code = 503
    default_detail = (
        "File storage is unavailable at the moment; nothing was stored. Try again in a minute."
    )
    default_code = "storage_unavailable"


def s3_enabled() -> bool:
    return bool(settings.S3_BUCKET)


def is_s3(ref: str) -> bool:
    return ref.startswith(S3_SCHEME)


def s3_ref(key: str) -> str:
    """The reference of ``key`` in the configured bucket."""
    return f"{S3_SCHEME}{settings.S3_BUCKET}/{key}"


def s3_parts(ref: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://`` reference."""
    bucket, _, key = ref.removeprefix(S3_SCHEME).partition("/")
    return bucket, key


def storage():
    """The S3 storage of the current settings (one per configuration)."""
    return _storage(
        settings.S3_BUCKET,
        settings.S3_ENDPOINT_URL,
        settings.S3_REGION,
        settings.S3_ACCESS_KEY_ID,
        settings.S3_SECRET_ACCESS_KEY,
    )


@functools.lru_cache(maxsize=4)
def _storage(bucket: str, endpoint: str, region: str, key_id: str, secret: str):
    # Imported here: boto3 is slow to import and local-disk installations never need it.
    from storages.backends.s3 import S3Storage

    return S3Storage(
        bucket_name=bucket,
        endpoint_url=endpoint or None,
        region_name=region or None,
        # Empty: boto3 finds credentials itself (its environment variables, an instance role).
        access_key=key_id or None,
        secret_key=secret or None,
        location="",
        file_overwrite=True,
    )


def _client():
    # Each thread has its own boto3 connection (django-storages keeps them thread-local).
    return storage().connection.meta.client


def _missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or error.get("Code") in {"NoSuchKey", "NotFound", "404"}


def put(source: Path | IO[bytes], key: str, *, content_type: str | None = None) -> str:
    """Upload a complete file (a path or an open binary file) as ``key``; return its reference."""
    with contextlib.ExitStack() as stack:
        handle = source if not isinstance(source, Path) else stack.enter_context(open(source, "rb"))
        content = File(handle, name=PurePosixPath(key).name)
        if content_type:
            content.content_type = content_type  # read by S3Storage for the object's type
        try:
            name = storage().save(key, content)
        except Exception as exc:
            _raise_unavailable(exc)
            raise
    return s3_ref(name)


def _raise_unavailable(exc: Exception) -> None:
    """Raise StorageUnavailable for a bucket that cannot be reached or refuses us."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, BotoCoreError | ClientError):
        # The cause names what to fix (a missing bucket, refused credentials).
        raise StorageUnavailable(f"{StorageUnavailable.default_detail} ({exc})") from exc


def local_copy(ref: str) -> contextlib.AbstractContextManager[Path]:
    """A local path holding the file: the file itself on local disk, else a
    temporary download (removed on exit) that keeps the object's name."""
    if not is_s3(ref):
        return contextlib.nullcontext(Path(ref))
    return _downloaded(ref)


@contextlib.contextmanager
def _downloaded(ref: str) -> Iterator[Path]:
    bucket, key = s3_parts(ref)
    folder = Path(tempfile.mkdtemp(prefix="quorum-"))
    target = folder / PurePosixPath(key).name
    try:
        try:
            _client().download_file(bucket, key, str(target))
        except Exception as exc:
            if _missing(exc):
                raise FileGone(ref) from exc
            raise
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def delete(ref: str) -> None:
    """Remove the file or object; one that is already gone is fine."""
    if not ref:
        return
    if is_s3(ref):
        bucket, key = s3_parts(ref)
        _client().delete_object(Bucket=bucket, Key=key)
    else:
        Path(ref).unlink(missing_ok=True)


def read(ref: str, start: int | None = None, end: int | None = None) -> Any:
    """An object's body (botocore's StreamingBody), or the inclusive byte range
    ``start``-``end`` of it; raises FileGone when there is no such object."""
    bucket, key = s3_parts(ref)
    extra = {"Range": f"bytes={start}-{end}"} if start is not None else {}
    try:
        return _client().get_object(Bucket=bucket, Key=key, **extra)["Body"]
    except Exception as exc:
        if _missing(exc):
            raise FileGone(ref) from exc
        _raise_unavailable(exc)
        raise


def presigned_url(ref: str, *, expires: int, filename: str, content_type: str) -> str:
    """A URL that GETs the object without credentials for ``expires`` seconds."""
    bucket, key = s3_parts(ref)
    return _client().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
            "ResponseContentType": content_type,
        },
        ExpiresIn=expires,
    )


def listing(prefix: str) -> Iterator[tuple[str, float]]:
    """``(reference, last modified as a Unix time)`` of every object under
    ``prefix`` in the configured bucket."""
    pages = (
        _client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=settings.S3_BUCKET, Prefix=prefix)
    )
    for page in pages:
        for entry in page.get("Contents", ()):
            yield s3_ref(entry["Key"]), entry["LastModified"].timestamp()
