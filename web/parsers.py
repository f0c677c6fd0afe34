"""The API's request parsers: every body passes ``web.input`` before a view sees it.

Set as ``DEFAULT_PARSER_CLASSES``; a view with parsers of its own (file
uploads) uses the form ones below.
"""

from __future__ import annotations

from rest_framework import exceptions, parsers

from web.input import BadInput, json_loads, text_problem


def refuse(exc: BadInput) -> exceptions.ValidationError:
    """A 400 whose detail names the field; the top-level field carries the message too."""
    top = exc.field.split(".")[0].split("[")[0]
    body = {"detail": str(exc)}
    if top and top not in ("body", "detail"):
        body[top] = [str(exc)]
    return exceptions.ValidationError(body)


class JSONParser(parsers.JSONParser):
    """orjson (which refuses lone surrogates and NaN) plus the depth and NUL checks."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            raise exceptions.ParseError("The body is empty; send a JSON document.")
        try:
            return json_loads(raw)
        except BadInput as exc:
            raise refuse(exc) from None


def _fields_check(data) -> None:
    for key, values in data.lists():
        for value in [key, *values]:
            if isinstance(value, str) and (problem := text_problem(value)) is not None:
                raise refuse(BadInput(str(key) if value is not key else "field name", problem))


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _fields_check(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _fields_check(result.data)
        for upload in result.files.values():
            if text_problem(upload.name or ""):
                raise refuse(BadInput("file", "its name " + text_problem(upload.name)))
        return result
