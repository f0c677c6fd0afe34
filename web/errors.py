"""Error pages that answer in the API's shape under /api/: a client of the REST
contract gets ``{"detail": ...}`` JSON even for a URL no route matches."""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
