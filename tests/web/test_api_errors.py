"""Every API error has one shape: {"detail": "<first problem, named>", <field>: [...]}."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework import exceptions

from web.api_errors import exception_handler


def test_field_errors_get_a_detail_naming_the_first_field():
    response = exception_handler(exceptions.ValidationError({"overlap": ["must be 1 or more"]}), {})
    assert response.status_code == 400
    assert response.data["detail"] == "overlap: must be 1 or more"
    assert response.data["overlap"] == ["must be 1 or more"]


def test_django_validation_errors_become_400s_with_their_fields():
    exc = ValidationError({"values.score": ["score must be an integer from 1 to 5"]})
    response = exception_handler(exc, {})
    assert response.status_code == 400
    assert response.data["detail"] == "values.score: score must be an integer from 1 to 5"


def test_a_list_of_one_error_becomes_its_detail():
    response = exception_handler(exceptions.ValidationError(["Send a JSON array."]), {})
    assert response.data == {"detail": "Send a JSON array."}


@pytest.mark.parametrize(
    ("exc", "status"),
    [(exceptions.NotAuthenticated(), 401), (exceptions.PermissionDenied(), 403)],
)
def test_auth_errors_keep_their_status_and_detail(exc, status):
    response = exception_handler(exc, {})
    assert response.status_code == status
    assert isinstance(response.data["detail"], str)


def test_other_exceptions_are_left_to_django():
    assert exception_handler(RuntimeError("boom"), {}) is None
