"""Model instances from raw SQL rows.

The labeling hot paths (next task, submit, token check) run on every
annotator action; compiling their ORM queries cost more CPU than PostgreSQL
spent answering them. These helpers let such a path write its SQL once and
still hand the rest of the code ordinary model instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model


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
