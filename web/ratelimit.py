"""A fixed-window counter of failed logins, kept in the shared cache.

For the HTML login form, which DRF's throttles do not cover. If the cache is
unreachable nothing is counted and nobody is refused: a Redis outage must not
lock everyone out.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)


def client_address(request) -> str:
    """The client's address: behind ``NUM_PROXIES`` proxies, the entry of
    X-Forwarded-For the nearest of them wrote (as DRF's throttles read it)."""
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "")


def _bucket(key: str, window_s: int) -> str:
    return f"ratelimit:{key}:{int(time.time() // window_s)}"


def count(key: str, *, window_s: int = 60) -> None:
    """Count one failure under ``key`` in the current window."""
    bucket = _bucket(key, window_s)
    try:
        if not cache.add(bucket, 1, timeout=window_s + 1):
            cache.incr(bucket)
    except ValueError:  # expired between add and incr
        pass
    except Exception:
        log.warning("rate limit not counted: cache unavailable", exc_info=True)


def exceeded(key: str, *, limit: int, window_s: int = 60) -> bool:
    """Whether ``key`` has used up this window's ``limit``."""
    try:
        return (cache.get(_bucket(key, window_s)) or 0) >= limit
    except Exception:
        log.warning("rate limit not checked: cache unavailable", exc_info=True)
        return False
