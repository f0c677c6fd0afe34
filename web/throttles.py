"""Throttles for the endpoints that take a password.

The rate comes from settings at each request (``AUTH_THROTTLE_RATE``), and the
count lives in the shared cache; if the cache is unreachable the request is let
through rather than answered 500: a Redis outage must not lock everyone out.
"""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)


class AuthRateThrottle(SimpleRateThrottle):
    scope = "auth"

    def get_rate(self) -> str | None:
        return settings.AUTH_THROTTLE_RATE or None

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache is down
            log.warning("auth throttle skipped: cache unavailable", exc_info=True)
            return True
