"""Django's Redis cache, shared client per pool, and failing soft.

Django builds a new ``redis.Redis`` for every cache call; constructing one
costs more CPU than the call itself, and every submit makes a cache call
(the agreement debounce). The client is thread-safe and only wraps the
pool, so one per pool behaves the same.

Redis is a helper here, never a single point of failure: when it cannot be
reached, reads miss (``get`` returns the default), writes report that nothing
was stored (``add`` and ``set`` return False) and ``incr`` raises ValueError
as for a missing key, so a page or a submit goes on without it. After a
failure the cache skips Redis for ``OUTAGE_PAUSE_S`` instead of paying a
failed connection on every call; short socket timeouts keep an unreachable
host from holding a request.
"""

from __future__ import annotations

import logging
import time

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

log = logging.getLogger(__name__)

OUTAGE_PAUSE_S = 5.0
SOCKET_DEFAULTS = {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        for key, value in SOCKET_DEFAULTS.items():
            kwargs.setdefault(key, value)
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
        self._down_until = 0.0

    def _soft(self, method: str, default, *args, **kwargs):
        if time.monotonic() < self._down_until:
            return default
        try:
            return getattr(super(), method)(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if time.monotonic() >= self._down_until:
                log.warning("cache unavailable (%s); going on without it", exc)
            self._down_until = time.monotonic() + OUTAGE_PAUSE_S
            return default

    def get(self, key, default=None, version=None):
        return self._soft("get", default, key, default, version)

    def get_many(self, keys, version=None):
        return self._soft("get_many", {}, keys, version)

    def has_key(self, key, version=None):
        return self._soft("has_key", False, key, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft("add", False, key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._soft("set", None, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft("set_many", list(data), data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft("touch", False, key, timeout, version)

    def delete(self, key, version=None):
        return self._soft("delete", False, key, version)

    def delete_many(self, keys, version=None):
        self._soft("delete_many", None, keys, version)

    def incr(self, key, delta=1, version=None):
        missing = object()
        value = self._soft("incr", missing, key, delta, version)
        if value is missing:
            raise ValueError(f"Key '{key}' not found: the cache is unavailable")
        return value
