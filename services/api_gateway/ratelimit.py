"""Rate limiters over the token buckets of domain.py: in process by default, Redis when
REDIS_URL is set (then every replica shares the buckets).

`take([(key, limit), ...])` takes one token from every bucket or from none. The Redis
version runs the same arithmetic in one Lua script (atomic across replicas) on the Redis
server's clock, so replicas with skewed clocks agree.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from redis.asyncio import Redis

from services.api_gateway.domain import Bucket, Limit, Verdict, take_all


class Limiter(Protocol):
    async def take(self, buckets: Sequence[tuple[str, Limit]]) -> Verdict: ...


class LocalLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_buckets: int = 200_000) -> None:
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    async def take(self, buckets: Sequence[tuple[str, Limit]]) -> Verdict:
        now = self._clock()
        keys = [k for k, _ in buckets]
        verdict, states = take_all([self._buckets.get(k) for k in keys], [lim for _, lim in buckets], now)
        for key, state in zip(keys, states, strict=True):
            self._buckets[key] = state
            self._buckets.move_to_end(key)
        # Forgetting the oldest bucket hands that caller a full bucket: only under a flood of
        # distinct callers, where memory matters more.
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return verdict


# KEYS: bucket keys. ARGV: per_second, burst for each key, in order.
# Returns {allowed (0/1), retry_after seconds as a string}.
_TAKE_ALL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = #KEYS
local levels = {}
local wait = 0
for i = 1, n do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = burst
  else
    tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  end
  levels[i] = tokens
  if tokens < 1 then
    local w = (1 - tokens) / rate
    if w > wait then wait = w end
  end
end
if wait > 0 then
  return {0, tostring(wait)}
end
for i = 1, n do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[i], 'tokens', tostring(levels[i] - 1), 'ts', tostring(now))
  -- A bucket left alone refills completely in burst / rate seconds: then it can go.
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
end
return {1, '0'}
"""


class RedisLimiter:
    def __init__(self, client: Redis, *, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self._script = client.register_script(_TAKE_ALL)

    async def take(self, buckets: Sequence[tuple[str, Limit]]) -> Verdict:
        keys = [f"{self.namespace}:rl:{k}" for k, _ in buckets]
        args: list[str] = []
        for _, limit in buckets:
            args += [repr(limit.per_second), str(limit.burst)]
        allowed, wait = await self._script(keys=keys, args=args)
        if int(allowed) == 1:
            return Verdict(True)
        seconds = float(wait)
        return Verdict(False, seconds if math.isfinite(seconds) else 1.0)
