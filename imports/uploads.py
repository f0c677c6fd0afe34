"""Accepting an uploaded import file: size limit, storing it, job creation.

Shared by the REST endpoint and the lead's page so both enforce the same limit
and the same checks.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework import status
from rest_framework.exceptions import APIException

from imports.models import ImportJob
from projects.models import Project
from web import files
from web.input import BadInput, json_loads, text_check

from . import cleanup, services, shapes


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"

    def __init__(self):
        limit = settings.IMPORT_MAX_BYTES
        super().__init__(f"The upload is larger than the limit of {limit:,} bytes.")


def content_length_check(meta: dict) -> None:
    """Refuse before reading anything when the client announces a too-large body."""
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.IMPORT_MAX_BYTES:
        raise UploadTooLarge()


class LimitedUploadHandler(FileUploadHandler):
    """Counts the bytes of uploaded files as they stream in and stops past the
    limit (the announced Content-Length may be absent or wrong)."""

    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > settings.IMPORT_MAX_BYTES:
            raise UploadTooLarge()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.IMPORT_MAX_BYTES:
            raise UploadTooLarge()
        return raw_data

    def file_complete(self, file_size):
        return None


def upload_handlers_limit(request) -> None:
    """Put the size guard first; call before the request body is read."""
    request.upload_handlers.insert(0, LimitedUploadHandler(request))


def mapping_parse(raw) -> dict | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, dict):
        mapping = raw
    else:
        try:
            mapping = json_loads(raw, "mapping")
        except BadInput as exc:
            raise ValidationError({"mapping": [exc.problem]}) from None
    try:
        shapes.mapping_normaliser(mapping)
    except ValueError as exc:
        raise ValidationError({"mapping": [str(exc)]}) from None
    return mapping


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[-100:] or "upload"


def import_upload_accept(*, project: Project, user, upload, shape: str, mapping_raw) -> ImportJob:
    """Validate the form fields, move the upload under MEDIA_ROOT/imports/ (or
    store it in the bucket as ``imports/…``) and queue the job (on commit)."""
    if upload is None:
        raise ValidationError({"file": ["No file was uploaded."]})
    # A multipart body reaches no middleware check (see web/middleware.py).
    try:
        text_check(upload.name or "", "file")
        text_check(shape or "", "shape")
    except BadInput as exc:
        raise ValidationError({exc.field: [exc.problem]}) from None
    shape = shape or shapes.AUTO
    if shape not in shapes.SHAPES:
        raise ValidationError(
            {"shape": [f"Unknown shape {shape!r}; use one of {', '.join(sorted(shapes.SHAPES))}."]}
        )
    mapping = mapping_parse(mapping_raw)
    if shape == shapes.MAPPING and not mapping:
        raise ValidationError({"mapping": ["The mapping shape needs a mapping."]})
    if upload.size > settings.IMPORT_MAX_BYTES:
        raise UploadTooLarge()
    name = f"{uuid.uuid4().hex}-{_safe_name(upload.name)}"
    if files.s3_enabled():
        # The worker may run on another host: the upload goes to the bucket.
        target = files.put(upload, f"{cleanup.UPLOAD_PREFIX}{name}")
    else:
        folder = cleanup.upload_folder()
        folder.mkdir(parents=True, exist_ok=True)
        target = str(folder / name)
        if hasattr(upload, "temporary_file_path"):
            shutil.move(upload.temporary_file_path(), target)
        else:
            with open(target, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
    return services.import_job_create(
        project=project,
        user=user,
        file_path=target,
        filename=upload.name,
        size_bytes=upload.size,
        shape=shape,
        mapping=mapping,
    )
