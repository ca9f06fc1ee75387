"""gateway.membership.changed.v1 consumed back by the gateway (real NATS + Postgres):
redelivery has one effect, poison goes to the DLQ; and the shared (Redis) cache variant."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from services.api_gateway.cache import generation
from services.api_gateway.gateway import membership_key, namespace
from services.api_gateway.tests.conftest import client_for
from services.api_gateway.tests.support import ACME, GLOBEX, add_member, auth, metric
from summit_common import dlq
from summit_contracts import new_event
from tests.helpers import eventually

pytestmark = pytest.mark.integration
CHANGED = "gateway.membership.changed.v1"


def changed(user: str = "u1", company: str = ACME, **overrides) -> dict:
    return {"user_id": user, "company_id": company, "change": "removed", "changed_at": datetime.now(UTC).isoformat(), **overrides}


async def publish(bus, runtime, event, *, msg_id: str | None = None) -> None:
    await bus.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": msg_id or event.msg_id})


async def test_a_redelivered_event_is_handled_once(gateway, bus):
    event = new_event(CHANGED, changed(), source="test", tenantid=ACME)
    for n in range(3):  # new Nats-Msg-Ids get past JetStream's dedupe window: the inbox must catch them
        await publish(bus, gateway, event, msg_id=f"{event.msg_id}-{n}")
    later = new_event(CHANGED, changed("u2"), source="test", tenantid=ACME)
    await publish(bus, gateway, later)

    async def both_applied():
        async with gateway.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM inbox WHERE event_type = $1", CHANGED) == 2

    await eventually(both_applied)

    async def duplicates_skipped():
        return metric(gateway, "summit_events_duplicate_total") == 2

    await eventually(duplicates_skipped)


@pytest.mark.parametrize(
    ("data", "tenant", "reason"),
    [
        (changed(change="promoted"), ACME, "invalid_data"),
        ({"company_id": ACME, "change": "removed"}, ACME, "invalid_data"),
        (changed(company=GLOBEX), ACME, "rejected_by_handler"),  # the company is the tenant
    ],
)
async def test_a_poison_event_lands_in_the_dlq(gateway, bus, data, tenant, reason):
    event = new_event(CHANGED, data, source="test", tenantid=tenant)
    await publish(bus, gateway, event)

    async def dead():
        entries = await dlq.list_entries(bus, gateway.naming, "api-gateway")
        return [e for e in entries if json.loads(e.original)["id"] == event.id]

    [entry] = await eventually(dead)
    assert entry.reason == reason and entry.service == "api-gateway"
    if reason == "rejected_by_handler":
        assert "differs from the event's tenant" in entry.error
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 0


# --- Redis ---------------------------------------------------------------------------------


async def test_replicas_share_the_redis_cache_and_the_durable_consumer_invalidates_it(make_gateway, settings, bus, redis_url):
    one = await make_gateway(redis_url=redis_url)
    two = await make_gateway(redis_url=redis_url)
    await add_member(one, ACME, "u1", "company_user")
    async with client_for(one) as c1, client_for(two) as c2:
        assert (await c1.get("/api/buddy/x", headers=auth(settings))).status_code == 200  # fills the shared entry
        async with one.pool.acquire() as conn:
            await conn.execute("DELETE FROM company_users WHERE user_id = 'u1'")
        assert (await c2.get("/api/buddy/x", headers=auth(settings))).status_code == 200  # served from Redis
        assert metric(two, "gateway_cache_lookups_total", {"cache": "membership", "result": "hit"}) == 1

        event = new_event(CHANGED, changed(), source="test", tenantid=ACME)
        for n in range(3):
            await publish(bus, one, event, msg_id=f"{event.msg_id}-{n}")

        async def denied_everywhere():
            codes = [(await c.get("/api/buddy/x", headers=auth(settings))).status_code for c in (c1, c2)]
            return codes == [403, 403]

        await eventually(denied_everywhere)
    client = Redis.from_url(redis_url)
    try:
        key = membership_key(ACME, "u1")
        ns = f"{namespace(one.schema)}:m"

        async def settled():
            duplicates = metric(one, "summit_events_duplicate_total") + metric(two, "summit_events_duplicate_total")
            return duplicates == 2

        await eventually(settled)  # the three deliveries went through the inbox: one applied, two skipped
        # one replica invalidated the shared entry, once (the routes' own invalidations are not involved here)
        assert await generation(client, namespace=ns, key=key) == 1
    finally:
        await client.aclose()


async def test_rate_limits_are_shared_through_redis(make_gateway, settings, redis_url):
    routes = {
        "rate_limits": {"default": {"tenant": {"per_second": 0.01, "burst": 100}, "key": {"per_second": 0.01, "burst": 2}}},
        "routes": [{"prefix": "/api/buddy", "service": "buddy-service", "roles": ["company_user"]}],
    }
    one = await make_gateway(redis_url=redis_url, routes=routes)
    two = await make_gateway(redis_url=redis_url, routes=routes)
    await add_member(one, ACME, "u1", "company_user")
    async with client_for(one) as c1, client_for(two) as c2:
        codes = [(await c.get("/api/buddy/x", headers=auth(settings))).status_code for c in (c1, c2, c1)]
        assert codes == [200, 200, 429]
        refused = await c2.get("/api/buddy/x", headers=auth(settings))
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 99


async def test_a_redis_outage_falls_back_to_the_database_and_lets_traffic_through(make_gateway, settings):
    gateway = await make_gateway(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    await add_member(gateway, ACME, "u1", "company_user")
    async with client_for(gateway) as client:
        assert (await client.get("/api/buddy/x", headers=auth(settings))).status_code == 200
        assert (await client.get("/api/buddy/x", headers=auth(settings, sub="stranger"))).status_code == 403
    assert metric(gateway, "gateway_backend_errors_total", {"backend": "redis"}) >= 2
