"""Events in, figures/lineage out, over real NATS JetStream and Postgres."""

from __future__ import annotations

import json

import pytest

from services.impact_calculator import cache
from services.impact_calculator.service import service
from summit_common import dlq
from summit_common.auth import mint_token
from summit_contracts import new_event
from tests.helpers import eventually, read_subject

pytestmark = pytest.mark.integration

P1 = {"system": "kintell", "id": "P-1"}
V1 = {"system": "kintell", "id": "V-1"}


def auth(settings, tenant="acme", roles=("company_user",)):
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub='u1', tenant=tenant, roles=list(roles))}"}


async def publish(js, runtime, event, msg_id=None):
    await js.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": msg_id or event.msg_id})
    return event


def course(cid, tenant="acme", when="2025-02-10T10:00:00+00:00"):
    return new_event("upskilling.course.completed.v1", {
        "completion_id": cid, "participant": P1, "provider": "ecornell", "course_id": "C-1",
        "course_name": "Norwegian A1", "completed_at": when}, source="test", tenantid=tenant)


async def metrics(client, settings, period="2025-Q1", tenant="acme"):
    return await client.get(f"/v1/metrics/{tenant}/{period}", headers=auth(settings, tenant))


async def wait_for(client, settings, check, period="2025-Q1"):
    async def ready():
        r = await metrics(client, settings, period)
        return r.json() if r.status_code == 200 and check(r.json()) else None
    return await eventually(ready, timeout=30)


async def test_events_investment_metrics_lineage_and_emitted_event(runtime, bus, client, settings):
    c1 = await publish(bus, runtime, course("CC-1"))
    score = await publish(bus, runtime, new_event("q2q.outcome.scored.v1", {
        "score_id": "Q-1", "participant": P1, "dimension": "job_readiness", "value": 0.8, "confidence": 0.9,
        "evidence_ids": ["ev-1", "ev-2"], "source_type": "kintell.session.completed.v1", "source_id": "S-1",
        "model_version": "m1", "scored_at": "2025-02-11T10:00:00+00:00"}, source="test", tenantid="acme"))
    session = await publish(bus, runtime, new_event("kintell.session.completed.v1", {
        "session_id": "S-1", "session_type": "language", "participant": P1, "volunteer": V1,
        "started_at": "2025-02-10T09:00:00+00:00", "duration_minutes": 600}, source="test", tenantid="acme"))
    rating = await publish(bus, runtime, new_event("kintell.rating.created.v1", {
        "rating_id": "R-1", "session_id": "S-1", "rated_by": P1, "rater_role": "participant", "score": 5,
        "created_at": "2025-02-12T09:00:00+00:00"}, source="test", tenantid="acme"))

    # Consumers are per event type, so the four facts land in any order: wait for all of them.
    expected_vis = 100 * (0.175 + 0.25 + 0.2 / 13 + 0.16)
    m = await wait_for(client, settings, lambda m: sum(m["outcome_counts"].values()) == 2
                       and abs(m["vis_score"] - expected_vis) < 0.01)
    assert m["outcome_counts"] == {"course_completed": 1, "q2q_job_readiness": 1}
    assert m["sroi_ratio"] is None and m["investment"] is None and m["config_version"] == "2026.1"
    # VIS: hours 10/20=.5, consistency 1/13, rating 1, outcomes .8 -> 100 x (.175 + .25 + .2/13 + .16)
    assert m["vis_score"] == pytest.approx(100 * (0.175 + 0.25 + 0.2 / 13 + 0.16), abs=0.01)

    r = await client.put("/v1/investments/acme/2025-Q1", json={"amount": 1000, "currency": "EUR"}, headers=auth(settings))
    assert r.status_code == 200, r.text
    assert r.json()["sroi_ratio"] == pytest.approx(r.json()["social_value"] / 1000, abs=1e-4)
    m = await wait_for(client, settings, lambda m: m["investment"] == 1000)
    assert m["cached"] is False  # the PUT invalidated the cached read
    assert (await metrics(client, settings)).json()["cached"] is True

    lin = await client.get(f"/v1/lineage/{m['metric_id']}", headers=auth(settings))
    assert lin.status_code == 200, lin.text
    body = lin.json()
    assert {e["event_id"] for e in body["events"]} == {c1.id, score.id, session.id, rating.id}
    assert {e["event_type"] for e in body["events"]} == {c1.type, score.type, session.type, rating.type}
    assert body["evidence_ids"] == ["ev-1", "ev-2"]
    steps = {s["outcome"]: s for s in body["sroi"]["steps"]}
    assert steps["course_completed"]["gross"] == 1200 and len(steps["course_completed"]["years"]) == 2
    assert body["sroi"]["social_value"] == pytest.approx(sum(s["present_value"] for s in steps.values()), abs=0.01)

    month = await wait_for(client, settings, lambda m: True, period="2025-02")
    assert month["outcome_counts"] == {"course_completed": 1, "q2q_job_readiness": 1} and month["sroi_ratio"] is None

    msgs = await read_subject(bus, runtime.naming.stream("impact"), runtime.naming.subject("impact.metrics.updated.v1"), at_least=5)
    events = [json.loads(x.data) for x in msgs]
    assert all(e["tenantid"] == "acme" for e in events)
    last_q1 = [e for e in events if e["data"]["period"] == "2025-Q1"][-1]
    assert last_q1["data"]["investment"] == 1000 and last_q1["data"]["metric_id"] == m["metric_id"]


async def test_redelivered_event_is_counted_once_and_same_fact_new_id_too(runtime, bus, client, settings):
    first = await publish(bus, runtime, course("CC-1"))
    await publish(bus, runtime, first, msg_id="another-msg-id")                 # same source+id, new Nats-Msg-Id
    await publish(bus, runtime, course("CC-1"))                                 # same business fact, new event id
    await publish(bus, runtime, course("CC-2"))                                 # a marker that arrives after them
    m = await wait_for(client, settings, lambda m: m["outcome_counts"].get("course_completed") == 2)
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM facts") == 2
    assert m["outcome_counts"] == {"course_completed": 2}


async def test_invalid_event_goes_to_dlq_and_changes_nothing(runtime, bus, client, settings):
    raw = {"specversion": "1.0", "id": "bad-1", "source": "test", "type": "upskilling.course.completed.v1",
           "tenantid": "acme", "datacontenttype": "application/json", "data": {"completion_id": "X"}}
    await bus.publish(runtime.naming.subject("upskilling.course.completed.v1"), json.dumps(raw).encode(),
                      headers={"Nats-Msg-Id": "test:bad-1"})
    entries = await eventually(lambda: dlq.list_entries(bus, runtime.naming, service.name))
    assert entries[0].summary()["reason"]
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM facts") == 0


async def test_bad_input_is_a_clear_4xx_and_stores_nothing(runtime, client, settings):
    h = auth(settings)
    cases = [("/v1/investments/acme/2025-Q9", {"amount": 10, "currency": "EUR"}, "period"),
             ("/v1/investments/acme/2025-Q1", {"amount": -1, "currency": "EUR"}, "amount"),
             ("/v1/investments/acme/2025-Q1", {"amount": 10, "currency": "USD"}, "EUR"),
             ("/v1/investments/acme/2025-Q1", {"amount": 10}, "currency")]
    for url, body, word in cases:
        r = await client.put(url, json=body, headers=h)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json") and word in r.text
    r = await client.put("/v1/investments/acme/2025-Q1", json={"amount": 10, "currency": "EUR"},
                         headers=auth(settings, roles=("viewer",)))
    assert r.status_code == 403
    assert (await client.get("/v1/metrics/acme/2025-13", headers=h)).status_code == 422
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM investments") == 0
        assert await conn.fetchval("SELECT count(*) FROM metrics") == 0


async def test_tenant_isolation_on_every_route(runtime, bus, client, settings):
    await publish(bus, runtime, course("CC-1"))
    await publish(bus, runtime, course("CC-9", tenant="globex"))
    m = await wait_for(client, settings, lambda m: True)
    other = auth(settings, "globex")
    assert (await client.get("/v1/metrics/acme/2025-Q1", headers=other)).status_code == 404
    assert (await client.get(f"/v1/lineage/{m['metric_id']}", headers=other)).status_code == 404
    r = await client.put("/v1/investments/acme/2025-Q1", json={"amount": 5, "currency": "EUR"}, headers=other)
    assert r.status_code == 404
    for url in ("/v1/metrics/acme/2025-Q1", f"/v1/lineage/{m['metric_id']}"):
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers={"Authorization": "Bearer nope"})).status_code == 401
    assert (await client.put("/v1/investments/acme/2025-Q1", json={"amount": 5, "currency": "EUR"})).status_code == 401
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM investments") == 0
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE outcome = 'denied_cross_tenant'") >= 3
    g = await wait_for_tenant(client, settings, "globex")
    assert g["outcome_counts"] == {"course_completed": 1}


async def wait_for_tenant(client, settings, tenant):
    async def ready():
        r = await client.get(f"/v1/metrics/{tenant}/2025-Q1", headers=auth(settings, tenant))
        return r.json() if r.status_code == 200 else None
    return await eventually(ready, timeout=30)


async def test_new_event_recomputes_and_invalidates_cache(runtime, bus, client, settings):
    await publish(bus, runtime, course("CC-1"))
    await wait_for(client, settings, lambda m: m["outcome_counts"] == {"course_completed": 1})
    assert (await metrics(client, settings)).json()["cached"] is True
    await publish(bus, runtime, course("CC-2"))
    m = await wait_for(client, settings, lambda m: m["outcome_counts"] == {"course_completed": 2})
    assert m["revision"] >= 2


async def test_cache_backends_share_one_interface():
    backends = [cache.MemoryCache(ttl=60)]
    try:
        r = cache.RedisCache("redis://127.0.0.1:6379/0", "impact_test_ns")
        await r._redis.ping()
        backends.append(r)
    except Exception:
        pass
    for c in backends:
        await c.invalidate("k")
        assert await c.get("k") is None
        await c.set("k", {"a": 1})
        assert await c.get("k") == {"a": 1}
        await c.invalidate("k")
        assert await c.get("k") is None
    if len(backends) == 1:
        pytest.skip("redis not reachable: memory backend checked only")
    await backends[1].close()


async def test_memory_cache_expires():
    now = [0.0]
    c = cache.MemoryCache(ttl=10, clock=lambda: now[0])
    await c.set("k", {"a": 1})
    now[0] = 9.9
    assert await c.get("k") == {"a": 1}
    now[0] = 10.0
    assert await c.get("k") is None
