"""Refuses requests whose path, query, headers, cookies or form fields hold text that
cannot be stored (``web.input.text_problem``), before any view or query runs.

Form bodies of the pages are checked just before their view runs. JSON bodies
are checked by the API's parsers (``web.parsers``) and by
``web.input.json_loads`` where a page parses JSON. CSRF-exempt views (the API,
the import upload) read their bodies themselves.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse

from web.input import BadInput, text_problem


def _form_problem(request) -> BadInput | None:
    for key, values in request.POST.lists():
        for value in [key, *values]:
            if problem := text_problem(value):
                return BadInput(f"field {key!r}" if value is not key else "field name", problem)
    for key, upload in request.FILES.items():
        if problem := text_problem(upload.name or ""):
            return BadInput(f"file name of {key!r}", problem)
    return None


def _refuse(request, bad: BadInput):
    message = f"Bad request: {bad}"
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=400)
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _first_problem(request) -> BadInput | None:
    if problem := text_problem(request.path):
        return BadInput("path", problem)
    cookies = ((k, [v]) for k, v in request.COOKIES.items())
    for items, name in ((request.GET.lists(), "query parameter"), (cookies, "cookie")):
        for key, values in items:
            for value in [key, *values]:
                if problem := text_problem(value):
                    return BadInput(f"{name} {key!r}" if value is not key else name, problem)
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and (problem := text_problem(value)):
            return BadInput(f"header {key[5:].replace('_', '-').title()}", problem)
    return None


class InputCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        bad = _first_problem(request)
        return self.get_response(request) if bad is None else _refuse(request, bad)

    def process_view(self, request, view, args, kwargs):
        # A CSRF-exempt view reads its own body: the API's parsers check it, and
        # the import upload installs its size guard before anything reads it.
        if request.method != "POST" or getattr(view, "csrf_exempt", False):
            return None
        bad = _form_problem(request)
        return None if bad is None else _refuse(request, bad)
