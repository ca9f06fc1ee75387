"""impact-in over real NATS JetStream and Postgres, pushing to fake partners over real HTTP."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from services.impact_in import context
from services.impact_in.service import service
from services.impact_in.tests.fakes import benevity_signature
from services.impact_in.worker import deliver_due
from summit_common import dlq
from summit_common.auth import mint_token
from summit_contracts import new_event
from tests.fixtures import api_client
from tests.helpers import eventually

pytestmark = pytest.mark.integration
BASE = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def auth(settings, tenant="acme", roles=("company_admin",)):
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub='u1', tenant=tenant, roles=list(roles))}"}


def metrics_event(tenant="acme", period="2026-Q1", metric_id="m-1", minute=0, social_value=1000.0, **extra):
    data = {"company_id": tenant, "period": period, "metric_id": metric_id, "sroi_ratio": 2.5,
            "social_value": social_value, "investment": 400.0, "vis_score": 71.2, "config_version": "2026.1",
            "computed_at": (BASE + timedelta(minutes=minute)).isoformat()} | extra
    return new_event("impact.metrics.updated.v1", data, source="impact-calculator", tenantid=tenant)


async def publish(js, runtime, event, msg_id=None):
    await js.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": msg_id or event.msg_id})
    return event


async def connect(client, settings, platform, body, tenant="acme"):
    r = await client.put(f"/v1/connections/{platform}", json=body, headers=auth(settings, tenant))
    assert r.status_code == 200, r.text
    return r.json()


def benevity_body(fake, **extra):
    return {"base_url": fake.url, "api_key": fake.api_key, "webhook_secret": "whsec-1", "company_ref": "BNV-1"} | extra


def goodera_body(fake, **extra):
    return {"base_url": fake.url, "token_url": f"{fake.url}/oauth/token", "client_id": fake.client_id,
            "client_secret": fake.client_secret} | extra


def workday_body(fake, **extra):
    return {"base_url": fake.url, "workday_tenant": fake.tenant, "username": fake.username,
            "password": fake.password} | extra


async def deliveries(client, settings, n, tenant="acme", **query):
    async def check():
        r = await client.get("/v1/deliveries", params=query, headers=auth(settings, tenant))
        items = r.json()["items"]
        return items if len(items) >= n else None
    return await eventually(check, timeout=30)


async def delivery(client, settings, delivery_id, tenant="acme"):
    r = await client.get(f"/v1/deliveries/{delivery_id}", headers=auth(settings, tenant))
    assert r.status_code == 200, r.text
    return r.json()


async def test_delivery_reaches_benevity_and_replay_does_not_double_deliver(runtime, bus, client, settings, benevity):
    conn_view = await connect(client, settings, "benevity", benevity_body(benevity))
    assert conn_view["secrets"] == {"api_key": "********", "webhook_secret": "********"}
    await publish(bus, runtime, metrics_event())
    [pending] = await deliveries(client, settings, 1, platform="benevity")
    assert pending["status"] == "pending" and pending["attempts"] == 0 and pending["payload_type"] == "impact_metrics"

    assert (await deliver_due(runtime))["delivered"] == 1
    assert len(benevity.deliveries) == 1 and benevity.requests[0]["key"] == pending["idempotency_key"]
    d = await delivery(client, settings, pending["id"])
    assert d["status"] == "delivered" and d["attempts"] == 1 and d["last_push_at"] and d["last_status_code"] == 201
    assert d["partner_reference"] == "bnv_1" and d["sent_payload"] == benevity.deliveries[0]
    assert d["sent_payload"]["companyId"] == "BNV-1" and d["sent_payload"]["externalReference"] == d["idempotency_key"]
    assert [(a["kind"], a["outcome"]) for a in d["history"]] == [("push", "delivered")]

    r = await client.post(f"/v1/deliveries/{pending['id']}/replay", headers=auth(settings))
    assert r.status_code == 202 and r.json()["status"] == "pending" and r.json()["replays"] == 1
    assert (await deliver_due(runtime))["delivered"] == 1
    assert [q["key"] for q in benevity.requests] == [pending["idempotency_key"]] * 2
    assert len(benevity.deliveries) == 1  # the replay was answered from Benevity's idempotency store
    d = await delivery(client, settings, pending["id"])
    assert d["status"] == "delivered" and d["attempts"] == 2 and d["partner_reference"] == "bnv_1"
    assert [(a["kind"], a["outcome"]) for a in d["history"]] == [("push", "delivered"), ("replay", "queued"),
                                                                  ("push", "delivered")]
    assert await deliver_due(runtime) == {}  # nothing else is due
    exposed = (await client.get("/metrics")).text
    assert 'impact_in_pushes_total{outcome="delivered",platform="benevity"} 2.0' in exposed

    # Secrets: sealed at rest, masked on read.
    listed = (await client.get("/v1/connections", headers=auth(settings))).json()["items"]
    assert listed[0]["secrets"]["api_key"] == "********" and benevity.api_key not in json.dumps(listed)
    async with runtime.pool.acquire() as conn:
        blob = await conn.fetchval("SELECT secrets FROM connections")
    assert benevity.api_key.encode() not in blob and b"whsec-1" not in blob


async def test_redelivered_or_duplicate_event_creates_no_second_delivery(runtime, bus, client, settings, benevity):
    await connect(client, settings, "benevity", benevity_body(benevity))
    first = await publish(bus, runtime, metrics_event())
    await publish(bus, runtime, first, msg_id="another-msg-id")     # same event redelivered
    await publish(bus, runtime, metrics_event())                    # same figures under a new event id
    await publish(bus, runtime, metrics_event(period="2026-Q2", metric_id="m-2"))  # a marker after them
    items = await deliveries(client, settings, 2)
    await deliver_due(runtime)
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM deliveries") == 2
    assert sorted(i["period"] for i in items) == ["2026-Q1", "2026-Q2"]
    assert len(benevity.deliveries) == 2


async def test_goodera_token_is_cached_refreshed_before_expiry_and_refetched_on_401(
        runtime, bus, client, settings, goodera, clock):
    await connect(client, settings, "goodera", goodera_body(goodera))
    await publish(bus, runtime, metrics_event(period="2026-Q1", metric_id="m-1"))
    await publish(bus, runtime, metrics_event(period="2026-Q2", metric_id="m-2"))
    await deliveries(client, settings, 2)
    assert (await deliver_due(runtime))["delivered"] == 2
    assert goodera.token_requests == 1 and len(goodera.received) == 2  # one token for both pushes

    await publish(bus, runtime, metrics_event(period="2026-Q3", metric_id="m-3"))
    await deliveries(client, settings, 3)
    clock.advance(3600 - 60 - 30)  # still inside expires_in - skew: cached
    assert (await deliver_due(runtime))["delivered"] == 1 and goodera.token_requests == 1

    await publish(bus, runtime, metrics_event(period="2026-Q4", metric_id="m-4"))
    await deliveries(client, settings, 4)
    clock.advance(31)  # past expires_in - skew, before the real expiry: refreshed early
    assert (await deliver_due(runtime))["delivered"] == 1 and goodera.token_requests == 2
    assert goodera.api_401s == 0

    goodera.revoke_all()  # Goodera forgets its tokens: one 401, one fresh token, delivered
    await publish(bus, runtime, metrics_event(period="2027-Q1", metric_id="m-5"))
    await deliveries(client, settings, 5)
    assert (await deliver_due(runtime))["delivered"] == 1
    assert goodera.api_401s == 1 and goodera.token_requests == 3
    assert goodera.received[-1]["client_reference_id"] and goodera.received[-1]["period"] == "2027-Q1"


async def test_goodera_token_endpoint_failing_is_retried(runtime, bus, client, settings, goodera, clock):
    await connect(client, settings, "goodera", goodera_body(goodera))
    goodera.token_failures = 5  # more than the 3 tries of one push
    await publish(bus, runtime, metrics_event())
    [item] = await deliveries(client, settings, 1)
    assert (await deliver_due(runtime))["failed"] == 1 and goodera.token_requests == 3
    d = await delivery(client, settings, item["id"])
    assert d["status"] == "failed" and d["last_status_code"] == 503 and "token" in d["last_error"]
    next_at = datetime.fromisoformat(d["next_attempt_at"])
    assert clock.now + timedelta(seconds=5) <= next_at <= clock.now + timedelta(seconds=10)  # backoff, base 10
    assert await deliver_due(runtime) == {}  # not due before its backoff

    clock.now = next_at  # two more failures, then a token
    assert (await deliver_due(runtime))["delivered"] == 1
    assert goodera.token_requests == 6 and len(goodera.received) == 1
    assert (await delivery(client, settings, item["id"]))["attempts"] == 2


async def test_workday_digest_accepted_and_faults_recorded(runtime, bus, client, settings, workday, clock):
    view = await connect(client, settings, "workday", workday_body(workday))
    assert view["endpoint"] == f"{workday.url}/ccx/service/{workday.tenant}/Resource_Management/v40.0"
    await publish(bus, runtime, metrics_event(period="2026-Q1", metric_id="m-1"))
    [first] = await deliveries(client, settings, 1)
    assert (await deliver_due(runtime))["delivered"] == 1
    assert workday.received[0]["External_Reference_ID"] == first["idempotency_key"]
    assert workday.received[0]["Social_Value"] == "1000.0" and workday.received[0]["Period"] == "2026-Q1"
    assert (await delivery(client, settings, first["id"]))["partner_reference"] == "WD-1"

    # Wrong password: an authentication fault, recorded, not retried (retrying cannot fix it).
    await connect(client, settings, "workday", workday_body(workday, password="wrong"))
    await publish(bus, runtime, metrics_event(period="2026-Q2", metric_id="m-2"))
    items = await deliveries(client, settings, 2)
    assert (await deliver_due(runtime))["dead"] == 1
    d = await delivery(client, settings, items[0]["id"])
    assert d["status"] == "dead" and d["last_status_code"] == 500 and "FailedAuthentication" in d["last_error"]
    assert d["history"][-1]["outcome"] == "dead"

    # A reused nonce and a stale Created are refused too.
    kept = await connect(client, settings, "workday", {"base_url": workday.url, "workday_tenant": workday.tenant,
                                                         "username": workday.username})  # secrets omitted: kept...
    assert kept["secrets"] == {"password": "********"}
    await connect(client, settings, "workday", workday_body(workday))              # ...then fixed
    context.of(runtime).random_bytes = lambda n: b"\x07" * n
    await publish(bus, runtime, metrics_event(period="2026-Q3", metric_id="m-3"))
    await publish(bus, runtime, metrics_event(period="2026-Q4", metric_id="m-4"))
    await deliveries(client, settings, 4)
    assert await deliver_due(runtime) == {"delivered": 1, "dead": 1}
    assert "nonce" in workday.faults[-1]
    context.of(runtime).random_bytes = os.urandom
    await publish(bus, runtime, metrics_event(period="2027-Q1", metric_id="m-5"))
    await deliveries(client, settings, 5)
    context.of(runtime).clock = lambda: clock.now - timedelta(minutes=10)  # Created goes out 10 minutes old
    assert (await deliver_due(runtime))["dead"] == 1
    assert "MessageExpired" in workday.faults[-1]


async def test_breaker_opens_after_failures_and_defers_then_recovers(runtime, bus, client, settings, benevity, clock):
    await connect(client, settings, "benevity", benevity_body(benevity))
    benevity.fail_with = 503
    for i, period in enumerate(("2026-Q1", "2026-Q2", "2026-Q3")):
        await publish(bus, runtime, metrics_event(period=period, metric_id=f"m-{i}"))
    await deliveries(client, settings, 3)
    assert await deliver_due(runtime) == {"failed": 2, "deferred": 1}
    assert len(benevity.requests) == 2  # the open breaker kept the third push from going out
    platforms = {p["platform"]: p for p in (await client.get("/v1/platforms", headers=auth(settings))).json()["items"]}
    assert platforms["benevity"]["breaker"]["state"] == "open" and platforms["benevity"]["connected"] is True
    assert platforms["goodera"]["breaker"]["state"] == "closed" and platforms["goodera"]["connected"] is False
    [deferred] = await deliveries(client, settings, 1, status="pending")
    assert deferred["attempts"] == 0 and deferred["last_error"] == "circuit open"
    assert datetime.fromisoformat(deferred["next_attempt_at"]) == clock.now + timedelta(seconds=60)

    clock.advance(30)
    assert await deliver_due(runtime) == {"deferred": 2}  # backoff came due, breaker still open
    assert len(benevity.requests) == 2

    benevity.fail_with = None
    clock.advance(31)  # cooldown over: a half-open trial succeeds, the breaker closes, the rest go
    assert await deliver_due(runtime) == {"delivered": 3}
    assert len(benevity.deliveries) == 3
    platforms = {p["platform"]: p for p in (await client.get("/v1/platforms", headers=auth(settings))).json()["items"]}
    assert platforms["benevity"]["breaker"]["state"] == "closed"


async def test_dead_after_max_attempts_then_replayable(runtime, bus, client, settings, benevity, clock):
    context.of(runtime).settings.breaker_failures = 100
    context.of(runtime).breakers.clear()
    await connect(client, settings, "benevity", benevity_body(benevity))
    benevity.fail_with = 500
    await publish(bus, runtime, metrics_event())
    [item] = await deliveries(client, settings, 1)
    outcomes = []
    for _ in range(3):
        outcomes += list((await deliver_due(runtime)).keys())
        clock.advance(400)  # past any backoff (cap 300)
    assert outcomes == ["failed", "failed", "dead"]
    d = await delivery(client, settings, item["id"])
    assert d["status"] == "dead" and d["attempts"] == 3 and d["next_attempt_at"] is None
    assert [a["outcome"] for a in d["history"]] == ["failed", "failed", "dead"]
    dead = await deliveries(client, settings, 1, status="dead", platform="benevity")
    assert dead[0]["id"] == item["id"]

    benevity.fail_with = None
    assert (await client.post(f"/v1/deliveries/{item['id']}/replay", headers=auth(settings))).status_code == 202
    assert (await deliver_due(runtime))["delivered"] == 1
    assert len(benevity.deliveries) == 1


async def test_benevity_webhook_valid_invalid_old_and_replayed(runtime, bus, client, settings, benevity, clock):
    await connect(client, settings, "benevity", benevity_body(benevity))
    await publish(bus, runtime, metrics_event())
    [item] = await deliveries(client, settings, 1)
    await deliver_due(runtime)
    raw = json.dumps({"id": "wh_1", "type": "impact_metrics.status_changed",
                      "data": {"externalReference": item["idempotency_key"], "status": "accepted"}}).encode()
    now = int(clock.now.timestamp())

    async def post(body, signature, tenant="acme"):
        headers = {"Content-Type": "application/json"} | ({"X-Benevity-Signature": signature} if signature else {})
        return await client.post(f"/v1/webhooks/benevity/{tenant}", content=body, headers=headers)

    for bad in (None, "t=1,v1=00", benevity_signature("wrong-secret", raw, now), benevity_signature("whsec-1", raw, now - 301),
                "garbage"):
        r = await post(raw, bad)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json"), bad
    r = await post(raw, benevity_signature("whsec-1", raw, now), tenant="globex")  # no such connection
    assert r.status_code == 401
    r = await post(raw + b" ", benevity_signature("whsec-1", raw, now))           # body changed after signing
    assert r.status_code == 401
    assert (await delivery(client, settings, item["id"]))["partner_status"] is None

    r = await post(raw, benevity_signature("whsec-1", raw, now - 120))
    assert r.status_code == 200 and r.json() == {"status": "applied", "delivery_id": item["id"]}
    d = await delivery(client, settings, item["id"])
    assert d["partner_status"] == "accepted" and d["partner_status_at"]

    replayed = json.dumps({"id": "wh_1", "type": "impact_metrics.status_changed",
                           "data": {"externalReference": item["idempotency_key"], "status": "rejected"}}).encode()
    r = await post(replayed, benevity_signature("whsec-1", replayed, now))
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert (await delivery(client, settings, item["id"]))["partner_status"] == "accepted"
    bad_shape = b'{"id": "wh_2"}'
    assert (await post(bad_shape, benevity_signature("whsec-1", bad_shape, now))).status_code == 422


async def test_preview_compares_latest_figures_with_what_was_sent_and_lists_paginate(
        runtime, bus, client, settings, benevity):
    await connect(client, settings, "benevity", benevity_body(benevity))
    await publish(bus, runtime, metrics_event(minute=0, social_value=1000.0))
    [first] = await deliveries(client, settings, 1)
    r = await client.get(f"/v1/deliveries/{first['id']}/preview", headers=auth(settings, roles=("viewer",)))
    assert r.status_code == 200 and r.json()["last_sent"] is None and r.json()["diff"]  # nothing sent yet
    await deliver_due(runtime)
    r = await client.get(f"/v1/deliveries/{first['id']}/preview", headers=auth(settings))
    assert r.json()["diff"] == [] and r.json()["would_send"] == r.json()["last_sent"]

    await publish(bus, runtime, metrics_event(minute=5, social_value=1500.0))  # recomputed figures
    await deliveries(client, settings, 2)
    preview = (await client.get(f"/v1/deliveries/{first['id']}/preview", headers=auth(settings))).json()
    changes = {c["path"]: c for c in preview["diff"]}
    assert changes["metrics[SOCIAL_VALUE].value"] == {"path": "metrics[SOCIAL_VALUE].value", "change": "changed",
                                                      "before": 1000.0, "after": 1500.0}
    assert "externalReference" in changes and "source.computedAt" in changes
    assert preview["based_on"]["computed_at"].startswith("2026-03-01T10:05")
    assert preview["last_sent"] == benevity.deliveries[0]

    page1 = (await client.get("/v1/deliveries", params={"limit": 1}, headers=auth(settings))).json()
    page2 = (await client.get("/v1/deliveries", params={"limit": 1, "cursor": page1["next_cursor"]},
                              headers=auth(settings))).json()
    assert page1["next_cursor"] and page2["next_cursor"] is None
    all_ids = {i["id"] for i in await deliveries(client, settings, 2)}
    assert len(all_ids) == 2 and {page1["items"][0]["id"], page2["items"][0]["id"]} == all_ids
    assert page2["items"][0]["id"] == first["id"]  # newest first


async def test_bad_input_is_a_clear_error_and_stores_nothing(runtime, bus, client, settings, benevity):
    h = auth(settings)
    cases = [
        ("benevity", {"api_key": "k"}, "base_url"),
        ("benevity", {"base_url": "not a url", "api_key": "k"}, "base_url"),
        ("benevity", {"base_url": benevity.url}, "api_key"),
        ("benevity", {"base_url": benevity.url, "api_key": "k", "surprise": 1}, "surprise"),
        ("goodera", {"base_url": benevity.url, "client_id": "c", "client_secret": "s"}, "token_url"),
        ("workday", {"base_url": benevity.url, "workday_tenant": "a/b", "username": "u", "password": "p"}, "workday_tenant"),
        ("workday", [], "dictionary"),
    ]
    for platform, body, word in cases:
        r = await client.put(f"/v1/connections/{platform}", json=body, headers=h)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json") and word in r.text
        assert "\"k\"" not in r.text  # a rejected secret is not echoed back
    assert (await client.put("/v1/connections/salesforce", json={}, headers=h)).status_code == 404
    r = await client.put("/v1/connections/benevity", json=benevity_body(benevity), headers=auth(settings, roles=("company_user",)))
    assert r.status_code == 403
    for params, status in (({"platform": "x"}, 422), ({"status": "lost"}, 422), ({"limit": 0}, 400),
                           ({"cursor": "@@"}, 400)):
        r = await client.get("/v1/deliveries", params=params, headers=h)
        assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json"), params
    assert (await client.delete("/v1/connections/benevity", headers=h)).status_code == 404
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM connections") == 0

    # A pending delivery cannot be replayed (it is already queued); nothing changes.
    await connect(client, settings, "benevity", benevity_body(benevity))
    await publish(bus, runtime, metrics_event())
    [item] = await deliveries(client, settings, 1)
    r = await client.post(f"/v1/deliveries/{item['id']}/replay", headers=h)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert (await delivery(client, settings, item["id"]))["replays"] == 0


async def test_poison_events_go_to_the_dlq_and_create_nothing(runtime, bus, client, settings, benevity):
    await connect(client, settings, "benevity", benevity_body(benevity))
    raw = {"specversion": "1.0", "id": "bad-1", "source": "test", "type": "impact.metrics.updated.v1",
           "tenantid": "acme", "datacontenttype": "application/json", "data": {"company_id": "acme", "period": "2026-Q1"}}
    await bus.publish(runtime.naming.subject("impact.metrics.updated.v1"), json.dumps(raw).encode(),
                      headers={"Nats-Msg-Id": "test:bad-1"})
    await publish(bus, runtime, metrics_event(tenant="acme", company_id="globex"))  # figures of another company
    entries = await eventually(lambda: _dlq_at_least(bus, runtime, 2), timeout=30)
    assert all(e.summary()["reason"] for e in entries)
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM deliveries") == 0
        assert await conn.fetchval("SELECT count(*) FROM latest_metrics") == 0


async def _dlq_at_least(bus, runtime, n):
    entries = await dlq.list_entries(bus, runtime.naming, service.name)
    return entries if len(entries) >= n else None


async def test_tenant_isolation_and_auth_on_every_route(runtime, bus, client, settings, benevity):
    await connect(client, settings, "benevity", benevity_body(benevity))
    await publish(bus, runtime, metrics_event())
    [item] = await deliveries(client, settings, 1)
    other = auth(settings, "globex")
    for method, url in (("GET", f"/v1/deliveries/{item['id']}"), ("POST", f"/v1/deliveries/{item['id']}/replay"),
                        ("GET", f"/v1/deliveries/{item['id']}/preview")):
        r = await client.request(method, url, headers=other)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json"), url
    assert (await client.get("/v1/deliveries", headers=other)).json()["items"] == []
    assert (await client.get("/v1/connections", headers=other)).json()["items"] == []
    assert (await client.delete("/v1/connections/benevity", headers=other)).status_code == 404
    assert {p["connected"] for p in (await client.get("/v1/platforms", headers=other)).json()["items"]} == {False}
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE outcome = 'denied_cross_tenant'") == 3
        assert await conn.fetchval("SELECT count(*) FROM connections") == 1  # globex's DELETE removed nothing

    routes = [("GET", "/v1/deliveries"), ("GET", f"/v1/deliveries/{item['id']}"),
              ("POST", f"/v1/deliveries/{item['id']}/replay"), ("GET", f"/v1/deliveries/{item['id']}/preview"),
              ("GET", "/v1/connections"), ("PUT", "/v1/connections/benevity"), ("DELETE", "/v1/connections/benevity"),
              ("GET", "/v1/platforms")]
    for method, url in routes:
        assert (await client.request(method, url)).status_code == 401, url
        assert (await client.request(method, url, headers={"Authorization": "Bearer nope"})).status_code == 401, url
    assert (await client.get(f"/v1/deliveries/{item['id']}", headers=auth(settings))).status_code == 200


async def test_one_event_fans_out_to_every_enabled_platform(runtime, bus, client, settings, benevity, goodera, workday):
    await connect(client, settings, "benevity", benevity_body(benevity))
    await connect(client, settings, "goodera", goodera_body(goodera))
    await connect(client, settings, "workday", workday_body(workday, enabled=False))  # disabled: skipped
    await publish(bus, runtime, metrics_event())
    items = await deliveries(client, settings, 2)
    assert sorted(i["platform"] for i in items) == ["benevity", "goodera"]
    assert len({i["idempotency_key"] for i in items}) == 2  # a key per platform
    assert await deliver_due(runtime) == {"delivered": 2}
    assert len(benevity.deliveries) == 1 and len(goodera.received) == 1 and workday.received == []
    only = (await client.get("/v1/deliveries", params={"platform": "goodera"}, headers=auth(settings))).json()["items"]
    assert [i["platform"] for i in only] == ["goodera"]


async def test_the_worker_loop_delivers_on_its_own(start_service, bus, settings, benevity):
    runtime = await start_service(service)  # workers on, real clock
    ctx = context.of(runtime)
    ctx.settings = ctx.settings.model_copy(update={"worker_interval_seconds": 0.1})
    async with api_client(runtime) as client:
        await connect(client, settings, "benevity", benevity_body(benevity))
        await publish(bus, runtime, metrics_event())

        async def delivered():
            items = (await client.get("/v1/deliveries", headers=auth(settings))).json()["items"]
            return items if items and items[0]["status"] == "delivered" else None
        [item] = await eventually(delivered, timeout=30)
    assert len(benevity.deliveries) == 1 and benevity.requests[0]["key"] == item["idempotency_key"]


async def test_backfill_sends_figures_computed_before_the_connection_once(runtime, bus, client, settings, benevity):
    await publish(bus, runtime, metrics_event(period="2026-Q1", metric_id="m-1"))
    await publish(bus, runtime, metrics_event(period="2026-Q2", metric_id="m-2", minute=5))

    async def kept():
        async with runtime.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM latest_metrics") == 2
    await eventually(kept)
    assert (await client.post("/v1/connections/benevity/backfill", headers=auth(settings))).status_code == 409
    await connect(client, settings, "benevity", benevity_body(benevity))
    r = await client.post("/v1/connections/benevity/backfill", headers=auth(settings))
    assert r.status_code == 202 and r.json() == {"platform": "benevity", "queued": 2}
    again = await client.post("/v1/connections/benevity/backfill", headers=auth(settings))
    assert again.json()["queued"] == 0  # the same idempotency keys: nothing queued twice
    assert (await deliver_due(runtime))["delivered"] == 2
    assert sorted(d["source"]["metricId"] for d in benevity.deliveries) == ["m-1", "m-2"]
    other = await client.post("/v1/connections/benevity/backfill", headers=auth(settings, "globex"))
    assert other.status_code == 409  # another company's connections are not this one's
    assert (await client.post("/v1/connections/benevity/backfill")).status_code == 401
