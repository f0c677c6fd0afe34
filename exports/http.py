"""Serving an export file: streamed, with ETag = sha256, conditional GET and one byte range.

A file on local disk is served from it (``FileResponse``); an object in the
bucket is streamed from it (S3 GetObject, with the Range when one was asked),
or, with ``S3_PRESIGNED_DOWNLOADS``, the client is sent to a short-lived
presigned URL of it.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.http import (
    FileResponse,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils.http import parse_etags

from web import files
from web.input import MAX_INT_DIGITS, strict_int

from .models import Export
from .storage import CONTENT_TYPE

# ASCII digits only (``\d`` takes any script's); their number is bounded by ``strict_int``.
RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)\Z")
CHUNK = 1 << 16
# How long a presigned download URL works: long enough to start the download.
PRESIGNED_SECONDS = 300


class RangeNotSatisfiable(Exception):
    pass


# Past the end of any file: a longer number than an integer column holds.
BEYOND = 10**MAX_INT_DIGITS


def _position(digits: str) -> int | None:
    if digits == "":
        return None
    return strict_int(digits, "Range") if len(digits) <= MAX_INT_DIGITS else BEYOND


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (start, end) of a single ``bytes=`` range, ``None`` to send it all.

    Several ranges at once are answered with the whole file, which HTTP allows.
    """
    header = header.strip()
    if "," in header and header.startswith("bytes="):
        return None
    match = RANGE_RE.match(header)
    if not match or match.groups() == ("", ""):
        raise RangeNotSatisfiable(header)
    first, last = (_position(g) for g in match.groups())
    if first is None:
        if last == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(size - last, 0), size - 1
    end = min(last, size - 1) if last is not None else size - 1
    if first >= size or (last is not None and last < first):
        raise RangeNotSatisfiable(header)
    return first, end


def _slice(path: Path, start: int, end: int):
    with open(path, "rb") as handle:
        handle.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def export_file_response(request, export: Export) -> HttpResponse:
    if export.state != Export.State.READY:
        return JsonResponse(
            {"detail": f"Export {export.pk} is not ready (state: {export.state})."}, status=409
        )
    in_bucket = files.is_s3(export.file_path)
    path = Path(export.file_path)
    if not in_bucket and not path.is_file():
        return _gone(export)
    etag = f'"{export.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=31536000, immutable",
        "X-Export-Sha256": export.sha256,
        "X-Export-Rows": str(export.row_count),
    }
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and (if_none_match.strip() == "*" or etag in parse_etags(if_none_match)):
        response = HttpResponse(status=304)
        for key, value in headers.items():
            response[key] = value
        return response
    size = export.bytes
    byte_range = None
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if range_header and (not if_range or if_range.strip() == etag):
        try:
            byte_range = parse_range(range_header, size)
        except RangeNotSatisfiable:
            response = JsonResponse(
                {"detail": f"Range {range_header!r} cannot be served from {size} bytes."},
                status=416,
            )
            response["Content-Range"] = f"bytes */{size}"
            return response
    if in_bucket:
        if settings.S3_PRESIGNED_DOWNLOADS:
            return _presigned(export, headers)
        try:
            body = files.read(export.file_path, *(byte_range or ()))
        except files.FileGone:
            return _gone(export)
        except files.StorageUnavailable as exc:
            # The page's download link and the API answer alike: a retry later works.
            return JsonResponse(
                {"detail": str(exc.detail)}, status=503, headers={"Retry-After": "30"}
            )
        content = _streamed(body)
    elif byte_range is not None:
        content = _slice(path, *byte_range)
    else:
        # Local disk: FileResponse hands the open file to the server (sendfile where it can).
        response = FileResponse(
            open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=True,
            filename=export.filename,
            content_type=CONTENT_TYPE,
        )
        for key, value in headers.items():
            response[key] = value
        return response
    if byte_range is not None:
        start, end = byte_range
        response = StreamingHttpResponse(content, status=206, content_type=CONTENT_TYPE)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = StreamingHttpResponse(content, content_type=CONTENT_TYPE)
        response["Content-Length"] = str(size)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    for key, value in headers.items():
        response[key] = value
    return response


def _gone(export: Export) -> JsonResponse:
    return JsonResponse({"detail": f"The file of export {export.pk} is gone."}, status=410)


def _streamed(body):
    """The object's bytes as the bucket sends them; the connection is released at the end."""
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def _presigned(export: Export, headers: dict[str, str]) -> HttpResponse:
    """302 to a presigned URL of the object. The client sends its Range to the
    bucket, which answers 206 itself; the bucket's own ETag is not the sha256,
    so ours rides on this answer (``ETag``, ``X-Export-Sha256``)."""
    url = files.presigned_url(
        export.file_path,
        expires=PRESIGNED_SECONDS,
        filename=export.filename,
        content_type=CONTENT_TYPE,
    )
    response = HttpResponseRedirect(url)
    for key, value in headers.items():
        response[key] = value
    # The URL expires: the redirect itself must not be cached.
    response["Cache-Control"] = "private, no-store"
    return response
