"""Raw SQL for hot paths: prepared statements and model instances from rows.

The labeling hot paths (next task, submit, token check) run on every
annotator action; compiling their ORM queries cost more CPU than PostgreSQL
spent answering them, and planning each statement anew cost PostgreSQL more
than running it. These helpers let such a path write its SQL once, have it
prepared on the connection, and still hand the rest of the code ordinary
model instances.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model


@contextmanager
def prepared_cursor() -> Iterator:
    """A cursor whose statements psycopg prepares after a few runs on the connection.

    Django's own cursors bind parameters on the client, so PostgreSQL plans
    every statement from scratch. This one binds on the server; it is still
    wrapped by Django, so errors, transactions and query logging behave as
    for ``connection.cursor()``. Only for fixed SQL strings: each distinct
    string becomes a prepared statement on the connection.
    """
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = psycopg.Cursor(connection.connection)
    wrapper = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with wrapper as cursor:
        yield cursor


@cache
def _fields(model: type[Model]) -> tuple:
    return tuple(model._meta.concrete_fields)


@cache
def _converters(model: type[Model]) -> tuple:
    # Only JSON columns need converting: psycopg already returns Python
    # datetimes, UUIDs and numbers, while Django loads jsonb as text.
    return tuple(
        (i, field.from_db_value)
        for i, field in enumerate(_fields(model))
        if hasattr(field, "from_db_value")
    )


@cache
def columns(model: type[Model], alias: str) -> str:
    """The model's columns for a SELECT list, in the order ``instance`` expects."""
    table_columns = (f'{alias}."{field.column}"' for field in _fields(model))
    return ", ".join(table_columns)


def width(model: type[Model]) -> int:
    return len(_fields(model))


def instance(model: type[Model], row: Sequence, start: int = 0):
    """The model instance from ``row[start:]``, laid out as ``columns(model, …)``."""
    values = list(row[start : start + width(model)])
    for index, convert in _converters(model):
        if values[index] is not None:
            values[index] = convert(values[index], None, connection)
    return model.from_db(DEFAULT_DB_ALIAS, None, values)
