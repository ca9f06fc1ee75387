"""The caches and rate limiters, in process (fake clock) and on Redis (when one is reachable)."""

from __future__ import annotations

import pytest

from services.api_gateway.cache import LocalCache, RedisCache, generation
from services.api_gateway.domain import Limit
from services.api_gateway.ratelimit import LocalLimiter, RedisLimiter
from tests.helpers import ManualClock

# --- in process --------------------------------------------------------------------------


async def test_local_cache_hits_until_the_ttl_and_caches_negative_answers():
    clock = ManualClock(1000.0)
    cache = LocalCache(ttl=300, clock=clock)
    miss = await cache.lookup("k")
    assert (miss.hit, miss.value) == (False, None)
    await cache.store("k", "admin", miss.ticket)
    await cache.store("n", "", (await cache.lookup("n")).ticket)
    assert (await cache.lookup("k")).value == "admin"
    assert (await cache.lookup("n")).hit and (await cache.lookup("n")).value == ""
    clock.now += 299.9
    assert (await cache.lookup("k")).hit
    clock.now += 0.2
    assert not (await cache.lookup("k")).hit
    assert len(cache) == 1  # the expired entry is gone


async def test_local_cache_refuses_a_fill_that_raced_an_invalidation():
    cache = LocalCache(ttl=300, clock=ManualClock(1000.0))
    ticket = (await cache.lookup("k")).ticket   # a request starts reading the database ...
    await cache.invalidate(["k"])               # ... the membership changes meanwhile ...
    await cache.store("k", "admin", ticket)     # ... and its (stale) answer is not kept
    assert not (await cache.lookup("k")).hit
    fresh = await cache.lookup("k")
    await cache.store("k", "participant", fresh.ticket)
    assert (await cache.lookup("k")).value == "participant"


async def test_local_cache_invalidate_clear_and_bound():
    cache = LocalCache(ttl=300, max_entries=3, clock=ManualClock(1000.0))
    for key in "abcd":
        await cache.store(key, key, (await cache.lookup(key)).ticket)
    assert len(cache) == 3 and not (await cache.lookup("a")).hit  # the oldest went
    await cache.invalidate(["b"])
    assert not (await cache.lookup("b")).hit and (await cache.lookup("c")).hit
    cache.clear()
    assert len(cache) == 0


async def test_local_limiter_refuses_past_the_burst_and_refills():
    clock = ManualClock(1000.0)
    limiter = LocalLimiter(clock=clock)
    tenant, key = Limit(10, 100), Limit(1, 2)
    verdicts = [await limiter.take([("t", tenant), ("k1", key)]) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[-1].retry_after == pytest.approx(1.0)
    assert (await limiter.take([("t", tenant), ("k2", key)])).allowed  # another key of the same tenant
    clock.now += 1.0
    assert (await limiter.take([("t", tenant), ("k1", key)])).allowed


async def test_local_limiter_tenant_bucket_is_shared_by_its_keys():
    limiter = LocalLimiter(clock=ManualClock(1000.0))
    tenant, key = Limit(0.01, 2), Limit(10, 100)
    results = [(await limiter.take([("t", tenant), (f"k{i}", key)])).allowed for i in range(3)]
    assert results == [True, True, False]


# --- Redis ---------------------------------------------------------------------------------


async def test_redis_cache_shares_values_and_honours_generations(redis_client, redis_namespace):
    one = RedisCache(redis_client, namespace=redis_namespace, ttl=300)
    two = RedisCache(redis_client, namespace=redis_namespace, ttl=300)  # another replica
    miss = await one.lookup("acme|u1")
    assert not miss.hit and miss.ticket == 0
    await one.store("acme|u1", "company_user", miss.ticket)
    assert (await two.lookup("acme|u1")).value == "company_user"

    racing = await two.lookup("acme|u2")
    await one.invalidate(["acme|u2"])
    await two.store("acme|u2", "admin", racing.ticket)  # stale: stored under generation 0, now 1
    assert not (await one.lookup("acme|u2")).hit
    assert await generation(redis_client, namespace=redis_namespace, key="acme|u2") == 1

    await two.invalidate(["acme|u1"])
    assert not (await one.lookup("acme|u1")).hit
    assert await redis_client.pttl(f"{redis_namespace}:g:acme|u1") > 300_000  # outlives the values


async def test_redis_cache_entries_expire(redis_client, redis_namespace):
    cache = RedisCache(redis_client, namespace=redis_namespace, ttl=300)
    await cache.store("k", "", 0)
    ttl = await redis_client.pttl(f"{redis_namespace}:v:k")
    assert 0 < ttl <= 300_000
    assert (await cache.lookup("k")).hit


async def test_redis_limiter_is_atomic_over_both_buckets(redis_client, redis_namespace):
    limiter = RedisLimiter(redis_client, namespace=redis_namespace)
    tenant, key = Limit(0.001, 100), Limit(0.001, 2)
    verdicts = [await limiter.take([("t", tenant), ("k1", key)]) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[-1].retry_after > 900  # one token at 0.001/s
    tokens = float(await redis_client.hget(f"{redis_namespace}:rl:t", "tokens"))
    assert tokens == pytest.approx(98, abs=0.01)  # the refused request took nothing from the tenant
    replica = RedisLimiter(redis_client, namespace=redis_namespace)
    assert not (await replica.take([("t", tenant), ("k1", key)])).allowed  # shared across replicas
    assert (await replica.take([("t", tenant), ("k2", key)])).allowed
