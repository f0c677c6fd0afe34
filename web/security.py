"""Response headers Django 5.2 does not set itself: the Content-Security-Policy.

Every script is a static file (htmx from django-htmx, static/js/), so the
policy allows scripts from this origin only; an injected inline script or
``on*=`` handler is refused by the browser even if it slipped past the
Markdown sanitiser. Inline ``style=`` attributes (progress bars, SVG sizes,
htmx's indicator styles) stay allowed: they cannot run code.
"""

from __future__ import annotations

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
