"""Shared helpers for the question type tests."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from projects.schema import SchemaError, validate_questions


def schema_errors(question: dict) -> dict[str, list[str]]:
    """The errors ``validate_questions`` names for one question (at position 0)."""
    with pytest.raises(SchemaError) as exc:
        validate_questions([question])
    return exc.value.message_dict


def post(**fields) -> QueryDict:
    q = QueryDict(mutable=True)
    for key, value in fields.items():
        if isinstance(value, list):
            q.setlist(key, value)
        else:
            q[key] = value
    return q
