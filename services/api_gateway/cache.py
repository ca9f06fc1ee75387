"""The lookup caches (membership, API keys): in process by default, Redis when REDIS_URL is set.

A cached value is a string; the empty string caches a negative answer (not a member,
unknown key). Both caches guard against the classic stale fill: a request reads the
database, the row changes and the cache is invalidated, then the request stores the old
answer. `lookup` hands out a ticket, `store` is ignored when an invalidation happened
since the ticket was taken:

- in process: one epoch counter per cache, bumped by every invalidation;
- Redis: one generation counter per key (INCR on invalidation); a value is stored with the
  generation it was read under and only served while that generation is current.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True)
class Lookup:
    hit: bool
    value: str | None   # None on a miss; '' is a cached negative answer
    ticket: int


class Cache(Protocol):
    shared: bool

    async def lookup(self, key: str) -> Lookup: ...

    async def store(self, key: str, value: str, ticket: int) -> None: ...

    async def invalidate(self, keys: Sequence[str]) -> None: ...

    def clear(self) -> None: ...


class LocalCache:
    """A bounded TTL cache (least recently stored evicted first) for one process."""

    shared = False

    def __init__(self, *, ttl: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._epoch = 0

    def __len__(self) -> int:
        return len(self._data)

    async def lookup(self, key: str) -> Lookup:
        entry = self._data.get(key)
        if entry is not None:
            if entry[1] > self._clock():
                return Lookup(True, entry[0], self._epoch)
            del self._data[key]
        return Lookup(False, None, self._epoch)

    async def store(self, key: str, value: str, ticket: int) -> None:
        if ticket != self._epoch:
            return  # invalidated while the caller read the database: its answer may be stale
        self._data[key] = (value, self._clock() + self.ttl)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    async def invalidate(self, keys: Sequence[str]) -> None:
        self._epoch += 1
        for key in keys:
            self._data.pop(key, None)

    def clear(self) -> None:
        self._epoch += 1
        self._data.clear()


class RedisCache:
    """Shared by every replica. Keys: `<namespace>:v:<key>` (value) and `<namespace>:g:<key>` (generation)."""

    shared = True

    def __init__(self, client: Redis, *, namespace: str, ttl: float) -> None:
        self.client = client
        self.namespace = namespace
        self.ttl_ms = max(1, int(ttl * 1000))

    def _keys(self, key: str) -> tuple[str, str]:
        return f"{self.namespace}:v:{key}", f"{self.namespace}:g:{key}"

    async def lookup(self, key: str) -> Lookup:
        value_key, gen_key = self._keys(key)
        raw, gen_raw = await self.client.mget([value_key, gen_key])
        generation = int(gen_raw or 0)
        if raw is not None:
            stored_gen, _, value = raw.decode().partition("|")
            if stored_gen == str(generation):
                return Lookup(True, value, generation)
        return Lookup(False, None, generation)

    async def store(self, key: str, value: str, ticket: int) -> None:
        value_key, _ = self._keys(key)
        await self.client.set(value_key, f"{ticket}|{value}", px=self.ttl_ms)

    async def invalidate(self, keys: Sequence[str]) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            for key in keys:
                value_key, gen_key = self._keys(key)
                pipe.incr(gen_key)
                # Outlives every value stored under the previous generation.
                pipe.pexpire(gen_key, self.ttl_ms * 2)
                pipe.delete(value_key)
            await pipe.execute()

    def clear(self) -> None:  # a shared cache is never dropped because one replica reconnected
        return None


async def generation(client: Redis, *, namespace: str, key: str) -> int:
    """The current generation of a key (tests and operators)."""
    return int(await client.get(f"{namespace}:g:{key}") or 0)
