"""Input that cannot hurt: the checks every value from a request passes before use.

PostgreSQL refuses a NUL character in text and JSON, a lone UTF-16 surrogate
cannot be encoded as UTF-8, JSON nested deeper than a few hundred levels breaks
serialisation (orjson stops at 255) and recursion, and ``int()`` accepts
``"²"``-like digits or thousands of them. Each of these would surface as a 500
deep inside a service; here they become a ``BadInput`` naming the field, which
the parsers, the middleware and the forms turn into a 400.

Limits (docs/architecture.md, "Input limits"): JSON nests at most
``MAX_DEPTH`` levels; integers are ASCII digits, at most ``MAX_INT_DIGITS``
of them (every integer column is 64-bit).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

MAX_DEPTH = 64
MAX_INT_DIGITS = 18

_UNSAFE = re.compile("[\x00\ud800-\udfff]")
_INT = re.compile(rf"-?[0-9]{{1,{MAX_INT_DIGITS}}}")
_NUL_ESCAPE = b"\\u0000"


class BadInput(ValueError):
    """A value that cannot be used; ``field`` names where it was (``values.q``, ``page``)."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


def text_problem(value: str) -> str | None:
    """Why the text cannot be stored, or None."""
    found = _UNSAFE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored"
    return "contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode text"


def text_check(value: str, field: str) -> str:
    """``value`` itself, or BadInput naming ``field``."""
    problem = text_problem(value)
    if problem is not None:
        raise BadInput(field, problem)
    return value


class _Bad(Exception):
    def __init__(self, problem: str):
        self.problem = problem
        self.path: list[str | int] = []


def _walk(value: Any, depth: int, limit: int) -> None:
    # Recursion is bounded by ``limit``: deeper input stops here first.
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise _Bad(problem)
    elif isinstance(value, dict):
        if depth >= limit:
            raise _Bad(f"nested deeper than {limit} levels")
        for key, item in value.items():
            # A bad key is named by its container: the key itself cannot be shown.
            if isinstance(key, str) and (problem := text_problem(key)) is not None:
                raise _Bad(f"has a key that {problem}")
            try:
                _walk(item, depth + 1, limit)
            except _Bad as exc:
                exc.path.append(str(key))
                raise
    elif isinstance(value, list | tuple):
        if depth >= limit:
            raise _Bad(f"nested deeper than {limit} levels")
        for index, item in enumerate(value):
            try:
                _walk(item, depth + 1, limit)
            except _Bad as exc:
                exc.path.append(index)
                raise


def _path(prefix: str, parts: list[str | int], shown: int = 4) -> str:
    text = prefix
    for part in parts[:shown]:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text + ("…" if len(parts) > shown else "")


def tree_check(value: Any, field: str = "", *, limit: int = MAX_DEPTH) -> Any:
    """``value`` itself, or BadInput naming the first string or container that cannot be stored.

    ``field`` is the name of ``value`` itself (``""`` for a whole request body).
    """
    try:
        _walk(value, 0, limit)
    except _Bad as exc:
        exc.path.reverse()
        raise BadInput(_path(field, exc.path) or "body", exc.problem) from None
    return value


def maybe_unsafe(raw: bytes, *, limit: int = MAX_DEPTH) -> bool:
    """Whether parsed ``raw`` JSON may hold a NUL or nest past ``limit`` (cheap, for bulk input).

    Lone surrogates and raw control characters never get this far: orjson refuses them.
    """
    return _NUL_ESCAPE in raw or raw.count(b"[") + raw.count(b"{") >= limit


def json_loads(raw: bytes | str, field: str = "", *, limit: int = MAX_DEPTH) -> Any:
    """Parse JSON and check it (``tree_check``); BadInput says what is wrong and where."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        message = str(exc.msg)
        if "depth" in message or "recursion" in message:
            raise BadInput(field or "body", f"nested deeper than {limit} levels") from None
        where = f" at line {exc.lineno}, column {exc.colno}"
        raise BadInput(field, f"not valid JSON: {message}{where}") from None
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    if not maybe_unsafe(data, limit=limit):
        return value  # nothing in it could fail the walk: spare it on every request
    return tree_check(value, field, limit=limit)


def strict_int(
    value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer from user input: an int, or ASCII digits with an optional minus sign.

    Refuses bools, floats, ``"²"`` or Arabic-Indic digits (which ``str.isdigit`` or ``int`` accept)
    and numbers longer than ``MAX_INT_DIGITS`` digits, with BadInput naming ``field``.
    """
    if isinstance(value, bool):
        raise BadInput(field, "must be an integer")
    if isinstance(value, int) and abs(value) < 10**MAX_INT_DIGITS:
        number = value
    elif isinstance(value, str) and _INT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "…"
        raise BadInput(field, f"{shown} is not an integer")
    if minimum is not None and number < minimum:
        raise BadInput(field, f"must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise BadInput(field, f"must be at most {maximum}")
    return number


def is_int_text(value: Any) -> bool:
    """Whether ``value`` is text ``strict_int`` accepts."""
    return isinstance(value, str) and _INT.fullmatch(value.strip()) is not None
