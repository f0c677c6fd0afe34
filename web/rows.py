"""Every raw SQL path gets its cursor or connection here; hot paths get prepared statements.

The labeling hot paths (next task, submit, token check) run on every
annotator action; compiling their ORM queries cost more CPU than PostgreSQL
spent answering them, and planning each statement anew cost PostgreSQL more
than running it. These helpers let such a path write its SQL once, have it
prepared on the connection, and still hand the rest of the code ordinary
model instances. The SQL strings themselves live in each app's ``sql.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache

import psycopg
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection
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


def cursor():
    """Django's ordinary cursor, for SQL that is not a fixed hot-path string.

    Parameters are bound on the client, as everywhere in Django. Use it as a
    context manager, or keep it for a longer job (an import's loader does);
    COPY works through it too: ``cursor.copy(...)`` passes through to psycopg.
    """
    return connection.cursor()


def connect(**options) -> psycopg.Connection:
    """A psycopg connection of its own to Django's database, beside Django's connection.

    For work that must not share the current transaction: progress that a
    page should see while an import's transaction is still open, or an
    export's REPEATABLE READ snapshot. ``options`` go to ``psycopg.connect``;
    the caller closes the connection.
    """
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        **options,
    )


def fetchone(sql: str, params: Sequence):
    """One row of a read-only query on a prepared cursor; the query doubles as the health check.

    With CONN_HEALTH_CHECKS, Django sends ``SELECT 1`` before a request's
    first query to find connections the server dropped while idle. When that
    first query is this one, it is the check instead: if the connection
    turns out to be dead, it is closed and the query runs again on a new one.
    That saves a round trip on every labeling call.
    """
    retry = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )
    if retry:
        connection.health_check_done = True
        try:
            return _fetchone(sql, params)
        except (OperationalError, InterfaceError):
            connection.close()
    return _fetchone(sql, params)


def _fetchone(sql: str, params: Sequence):
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


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
