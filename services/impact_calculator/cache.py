"""Read cache for metrics: one interface, two backends.

`MemoryCache` (default): a dict with a TTL, per process. `RedisCache` (when REDIS_URL is set):
shared by replicas. Keys are namespaced by the service's schema, so test runs and deployments
sharing a Redis never see each other's entries. Writers call `invalidate` for the
company-periods they recompute (see README "Caching" for the consistency window).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Protocol

# Short: a reader that read the old row just before a commit can still refill the old
# figures after the post-commit invalidation; the TTL bounds that window.
DEFAULT_TTL = float(os.environ.get("IMPACT_CACHE_TTL_SECONDS", "5"))


class Cache(Protocol):
    async def get(self, key: str) -> dict[str, Any] | None: ...
    async def set(self, key: str, value: dict[str, Any]) -> None: ...
    async def invalidate(self, *keys: str) -> None: ...


def metrics_key(company: str, period: str) -> str:
    return f"metrics:{company}:{period}"


class MemoryCache:
    def __init__(self, ttl: float = DEFAULT_TTL, clock=time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, str]] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        expires, value = hit
        if self._clock() >= expires:
            self._entries.pop(key, None)
            return None
        return json.loads(value)  # a copy: callers cannot mutate the cached value

    async def set(self, key: str, value: dict[str, Any]) -> None:
        self._entries[key] = (self._clock() + self.ttl, json.dumps(value, default=str))

    async def invalidate(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)


class RedisCache:
    def __init__(self, url: str, namespace: str, ttl: float = DEFAULT_TTL) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._ns = f"summit:impact:{namespace}:"
        self.ttl = ttl

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self._redis.get(self._ns + key)
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: dict[str, Any]) -> None:
        await self._redis.set(self._ns + key, json.dumps(value, default=str), px=max(int(self.ttl * 1000), 1))

    async def invalidate(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._ns + k for k in keys))

    async def close(self) -> None:
        await self._redis.aclose()


_caches: dict[str, Cache] = {}


def for_namespace(namespace: str) -> Cache:
    """The cache of one service schema (created on first use; Redis when REDIS_URL is set)."""
    cache = _caches.get(namespace)
    if cache is None:
        url = os.environ.get("REDIS_URL")
        cache = RedisCache(url, namespace) if url else MemoryCache()
        _caches[namespace] = cache
    return cache
