"""One error shape for the whole API: {"detail": ...} plus field errors."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, list):
        response.data = {"detail": data[0] if len(data) == 1 else data}
    elif isinstance(data, dict) and "detail" not in data:
        first = next(iter(data.items()), None)
        summary = "Invalid input."
        if first is not None:
            field, errors = first
            message = errors[0] if isinstance(errors, list) and errors else errors
            if isinstance(message, str):
                summary = f"{field}: {message}"
        response.data = {"detail": summary, **data}
    return response
