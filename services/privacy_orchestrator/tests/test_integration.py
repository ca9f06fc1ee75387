"""DSAR export and deletion through real NATS JetStream and Postgres, with two probe holders."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.privacy_orchestrator import config, worker
from services.privacy_orchestrator.service import service
from services.privacy_orchestrator.tests import probes
from services.privacy_orchestrator.tests.conftest import T0
from summit_common import dlq
from summit_common.auth import mint_token
from summit_common.privacy import new_keypair, seal
from summit_contracts import new_event
from tests.fixtures import api_client
from tests.helpers import eventually, read_subject

pytestmark = pytest.mark.integration

S1 = {"refs": [{"system": "kintell", "id": "K-1"}, {"system": "buddy", "id": "B-1"}]}
S2 = {"refs": [{"system": "kintell", "id": "K-2"}, {"system": "buddy", "id": "B-2"}]}


def auth(settings, tenant="acme", roles=("privacy-officer",)):
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub='officer-1', tenant=tenant, roles=list(roles))}"}


async def status_is(client, settings, path, status):
    async def check():
        r = await client.get(path, headers=auth(settings))
        return r.json() if r.status_code == 200 and r.json()["status"] == status else None
    return await eventually(check, timeout=30)


def steps(view):
    return [(a["step"], a["service"]) for a in view["audit"]]


async def test_export_bundles_both_holders_for_the_subject_only_then_expires(orchestrator, holders, client, settings, bus):
    r = await client.post("/v1/privacy/exports", json={"subject": S1}, headers=auth(settings))
    assert r.status_code == 202, r.text
    job = r.json()
    path = f"/v1/privacy/exports/{job['job_id']}"
    assert r.headers["location"] == path
    assert job["status"] == "collecting" and job["expected_holders"] == list(probes.NAMES)
    assert (await client.get(f"{path}/bundle", headers=auth(settings))).status_code in (409, 200)

    done = await status_is(client, settings, path, "complete")
    assert [(h["service"], h["status"], h["attempts"], h["counts"]) for h in done["holders"]] == [
        ("privacy-probe-a", "ok", 1, {"people": 1}), ("privacy-probe-b", "ok", 1, {"people": 1})]
    assert done["expires_at"] == (T0 + timedelta(days=30)).isoformat()
    r = await client.get(f"{path}/bundle", headers=auth(settings))
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle["job_id"] == job["job_id"] and bundle["subject"] == S1
    assert bundle["services"] == {"privacy-probe-a": {"people": [{"ext_id": "K-1", "note": "a k1"}]},
                                  "privacy-probe-b": {"people": [{"ext_id": "B-1", "note": "b b1"}]}}

    async with orchestrator.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT private_key_enc, bundle_enc, subject_enc FROM requests")
        assert row["private_key_enc"] is None and row["bundle_enc"] is not None  # the job key is discarded
        assert b"a k1" not in row["bundle_enc"] and b"K-1" not in row["subject_enc"]  # stored encrypted
        assert await conn.fetchval("SELECT count(*) FROM holders WHERE sealed IS NOT NULL") == 0
        audit_text = await conn.fetchval("SELECT string_agg(privacy_audit::text, ' ') FROM privacy_audit")
        assert "K-1" not in audit_text and "B-1" not in audit_text

    # A redelivered answer (same event) and the same answer under a new event id change nothing.
    answered = await read_subject(bus, orchestrator.naming.stream("privacy"),
                                  orchestrator.naming.subject("privacy.export.answered.v1"), at_least=2)
    first = json.loads(answered[0].data)
    subject = orchestrator.naming.subject("privacy.export.answered.v1")
    await bus.publish(subject, answered[0].data, headers={"Nats-Msg-Id": "redelivered-" + first["id"]})
    again = new_event("privacy.export.answered.v1", first["data"], source=first["source"], tenantid="acme")
    await bus.publish(subject, again.to_json(), headers={"Nats-Msg-Id": again.msg_id})

    async def handled():
        async with orchestrator.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM inbox WHERE msg_key = $1", again.msg_id)
    await eventually(handled)
    after = (await client.get(path, headers=auth(settings))).json()
    assert after["status"] == "complete" and after["holders"] == done["holders"]
    assert [s for s, _ in steps(after)].count("answered") == 2

    # Thirty days later the bundle is gone: 410 at once, then the worker purges it.
    config.clock.set(T0 + timedelta(days=30))
    assert (await client.get(f"{path}/bundle", headers=auth(settings))).status_code == 410
    assert (await worker.run_due(orchestrator, T0 + timedelta(days=29)))["expired"] == 0
    assert (await worker.run_due(orchestrator, T0 + timedelta(days=30)))["expired"] == 1
    expired = (await client.get(path, headers=auth(settings))).json()
    assert expired["status"] == "expired" and expired["bundle"] is None
    assert [s for s, _ in steps(expired)] == ["requested", "fanned_out", "answered", "answered", "completed",
                                              "bundle_downloaded", "expired"]
    assert all(a["at"] for a in expired["audit"])
    r = await client.get(f"{path}/bundle", headers=auth(settings))
    assert r.status_code == 410 and r.headers["content-type"].startswith("application/problem+json")
    async with orchestrator.pool.acquire() as conn:
        assert await conn.fetchval("SELECT bundle_enc IS NULL AND subject_enc IS NULL FROM requests")


async def test_deletion_runs_only_after_its_window_and_a_cancelled_one_never(orchestrator, holders, client, settings, bus):
    probe_a, probe_b = holders
    r = await client.post("/v1/privacy/deletions", json={"subject": S1}, headers=auth(settings))
    assert r.status_code == 202, r.text
    d1 = r.json()
    assert d1["status"] == "scheduled" and d1["window_days"] == 30
    assert d1["execute_after"] == (T0 + timedelta(days=30)).isoformat()
    d2 = (await client.post("/v1/privacy/deletions", json={"subject": S2, "window_days": 10}, headers=auth(settings))).json()
    p1, p2 = f"/v1/privacy/deletions/{d1['request_id']}", f"/v1/privacy/deletions/{d2['request_id']}"

    assert (await worker.run_due(orchestrator, T0 + timedelta(days=9)))["fanned_out"] == 0
    config.clock.set(T0 + timedelta(days=9))
    r = await client.post(f"{p2}/cancel", headers=auth(settings))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await client.post(f"{p2}/cancel", headers=auth(settings))).status_code == 409

    assert (await worker.run_due(orchestrator, T0 + timedelta(days=31)))["fanned_out"] == 1
    done = await status_is(client, settings, p1, "complete")
    assert [(h["service"], h["status"], h["counts"]) for h in done["holders"]] == [
        ("privacy-probe-a", "ok", {"people": 1}), ("privacy-probe-b", "ok", {"people": 1})]
    assert [s for s, _ in steps(done)] == ["requested", "fanned_out", "confirmed", "confirmed", "completed"]
    assert await probes.notes(probe_a) == [("acme", "a k2"), ("globex", "a globex")]  # S2 (cancelled) kept
    assert await probes.notes(probe_b) == [("acme", "b b2"), ("globex", "b globex")]

    config.clock.set(T0 + timedelta(days=31))
    r = await client.post(f"{p1}/cancel", headers=auth(settings))
    assert r.status_code == 409 and "complete" in r.json()["detail"]
    cancelled = (await client.get(p2, headers=auth(settings))).json()
    assert cancelled["status"] == "cancelled" and cancelled["holders"] == []
    assert [s for s, _ in steps(cancelled)] == ["requested", "cancelled"]
    sent = await read_subject(bus, orchestrator.naming.stream("privacy"),
                              orchestrator.naming.subject("privacy.deletion.requested.v1"), at_least=1)
    assert [json.loads(m.data)["data"]["request_id"] for m in sent] == [d1["request_id"]]


async def test_a_failing_holder_makes_the_deletion_partially_failed_and_a_retry_completes_it(
        orchestrator, holders, client, settings):
    probe_a, probe_b = holders
    probes.BROKEN.add("privacy-probe-b")
    d = (await client.post("/v1/privacy/deletions", json={"subject": S1, "window_days": 0}, headers=auth(settings))).json()
    path = f"/v1/privacy/deletions/{d['request_id']}"
    assert (await worker.run_due(orchestrator, T0))["fanned_out"] == 1

    async def b_failed(attempts):
        async def check():
            view = (await client.get(path, headers=auth(settings))).json()
            b = view["holders"][1]
            return view if view["holders"][0]["status"] == "ok" and b["status"] == "failed" and b["attempts"] == attempts else None
        return await eventually(check, timeout=30)

    view = await b_failed(1)
    assert view["status"] == "executing" and view["holders"][1]["retrying"]
    assert view["holders"][1]["error"].startswith("RuntimeError")
    assert (await worker.run_due(orchestrator, T0 + timedelta(seconds=30)))["holders_retried_or_failed"] == 0  # backoff
    assert (await worker.run_due(orchestrator, T0 + timedelta(seconds=61)))["holders_retried_or_failed"] == 1
    view = await b_failed(2)
    assert view["status"] == "partially_failed" and not view["holders"][1]["retrying"]
    assert await probes.notes(probe_a) == [("acme", "a k2"), ("globex", "a globex")]
    assert ("acme", "b b1") in await probes.notes(probe_b)

    probes.BROKEN.clear()
    config.clock.set(T0 + timedelta(hours=1))
    r = await client.post(f"{path}/retry", headers=auth(settings))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "executing" and r.json()["holders"][1]["attempts"] == 3
    done = await status_is(client, settings, path, "complete")
    trail = steps(done)  # the two holders answer in any order: compare each one's own steps
    assert trail[:2] == [("requested", None), ("fanned_out", None)] and trail[-1] == ("completed", None)
    assert [s for s, service in trail if service == "privacy-probe-a"] == ["confirmed"]
    assert [s for s, service in trail if service == "privacy-probe-b"] == [
        "answer_failed", "retried", "answer_failed", "gave_up", "retried", "confirmed"]
    assert await probes.notes(probe_b) == [("acme", "b b2"), ("globex", "b globex")]
    assert (await client.post(f"{path}/retry", headers=auth(settings))).status_code == 409


async def test_bad_input_auth_roles_pagination_and_tenant_isolation(orchestrator, client, settings):
    h = auth(settings)
    for path, body in [("/v1/privacy/exports", {}), ("/v1/privacy/exports", {"subject": {"refs": []}}),
                       ("/v1/privacy/exports", {"subject": {"refs": [{"system": "Not A System", "id": "x"}]}}),
                       ("/v1/privacy/exports", {"subject": S1, "extra": 1}),
                       ("/v1/privacy/deletions", {"subject": S1, "window_days": 91}),
                       ("/v1/privacy/deletions", {"subject": S1, "window_days": -1})]:
        r = await client.post(path, json=body, headers=h)
        assert r.status_code == 422, (path, body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json") and r.json()["detail"]
    assert (await client.get("/v1/privacy/exports?status=nope", headers=h)).status_code == 422
    assert (await client.get("/v1/privacy/exports?cursor=!!", headers=h)).status_code == 400
    async with orchestrator.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM requests") == 0

    assert (await client.get("/v1/privacy/exports")).status_code == 401
    assert (await client.get("/v1/privacy/exports", headers={"Authorization": "Bearer nope"})).status_code == 401
    user = auth(settings, roles=("company_user",))
    assert (await client.post("/v1/privacy/exports", json={"subject": S1}, headers=user)).status_code == 403
    assert (await client.get("/v1/privacy/deletions", headers=user)).status_code == 403
    admin = auth(settings, roles=("admin",))

    jobs = [(await client.post("/v1/privacy/exports", json={"subject": S1}, headers=admin)).json()["job_id"]
            for _ in range(3)]
    deletion = (await client.post("/v1/privacy/deletions", json={"subject": S1}, headers=h)).json()["request_id"]
    page1 = (await client.get("/v1/privacy/exports?limit=2", headers=h)).json()
    page2 = (await client.get(f"/v1/privacy/exports?limit=2&cursor={page1['next_cursor']}", headers=h)).json()
    assert [i["id"] for i in page1["items"] + page2["items"]] == jobs[::-1] and page2["next_cursor"] is None
    assert [i["id"] for i in (await client.get("/v1/privacy/deletions", headers=h)).json()["items"]] == [deletion]

    other = auth(settings, tenant="globex")
    for method, path in [("GET", f"/v1/privacy/exports/{jobs[0]}"), ("GET", f"/v1/privacy/exports/{jobs[0]}/bundle"),
                         ("POST", f"/v1/privacy/exports/{jobs[0]}/retry"), ("GET", f"/v1/privacy/deletions/{deletion}"),
                         ("POST", f"/v1/privacy/deletions/{deletion}/cancel"),
                         ("POST", f"/v1/privacy/deletions/{deletion}/retry"), ("GET", "/v1/privacy/exports/unknown")]:
        r = await client.request(method, path, headers=other)
        assert r.status_code == 404, (method, path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/v1/privacy/exports", headers=other)).json()["items"] == []
    assert (await client.get("/v1/privacy/deletions", headers=other)).json()["items"] == []
    assert (await client.get(f"/v1/privacy/deletions/{deletion}", headers=h)).json()["status"] == "scheduled"
    async with orchestrator.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE outcome = 'denied_cross_tenant'") == 6
    assert (await client.get(f"/v1/privacy/exports/{jobs[0]}/bundle", headers=h)).status_code == 409


async def test_poison_answers_go_to_the_dlq_and_change_nothing(orchestrator, client, settings, bus):
    job_id = (await client.post("/v1/privacy/exports", json={"subject": S1}, headers=auth(settings))).json()["job_id"]
    subject = orchestrator.naming.subject("privacy.export.answered.v1")
    raw = {"specversion": "1.0", "id": "bad-1", "source": "privacy-probe-a", "type": "privacy.export.answered.v1",
           "tenantid": "acme", "datacontenttype": "application/json",
           "data": {"job_id": job_id, "service": "privacy-probe-a", "status": "maybe", "answered_at": T0.isoformat()}}
    await bus.publish(subject, json.dumps(raw).encode(), headers={"Nats-Msg-Id": "test:bad-1"})
    no_box = new_event("privacy.export.answered.v1", {"job_id": job_id, "service": "privacy-probe-a", "status": "ok",
                                                      "answered_at": T0}, source="privacy-probe-a", tenantid="acme")
    await bus.publish(subject, no_box.to_json(), headers={"Nats-Msg-Id": no_box.msg_id})
    entries = await eventually(lambda: _at_least(bus, orchestrator, 2), timeout=30)
    assert {e.summary()["reason"] for e in entries}
    view = (await client.get(f"/v1/privacy/exports/{job_id}", headers=auth(settings))).json()
    assert view["status"] == "collecting" and {h["status"] for h in view["holders"]} == {"pending"}


async def _at_least(bus, runtime, n):
    entries = await dlq.list_entries(bus, runtime.naming, service.name)
    return entries if len(entries) >= n else None


async def test_a_silent_holder_is_asked_again_then_marked_failed_on_an_export(orchestrator, holders, client, settings):
    config.use(config.current().model_copy(update={"holders": ",".join([*probes.NAMES, "privacy-probe-silent"])}))
    job = (await client.post("/v1/privacy/exports", json={"subject": S1}, headers=auth(settings))).json()
    path = f"/v1/privacy/exports/{job['job_id']}"

    async def two_answered():
        view = (await client.get(path, headers=auth(settings))).json()
        return view if [h["status"] for h in view["holders"]] == ["ok", "ok", "pending"] else None
    await eventually(two_answered, timeout=30)
    assert (await worker.run_due(orchestrator, T0 + timedelta(seconds=60)))["holders_retried_or_failed"] == 1
    assert (await worker.run_due(orchestrator, T0 + timedelta(seconds=179)))["holders_retried_or_failed"] == 0
    assert (await worker.run_due(orchestrator, T0 + timedelta(seconds=180)))["holders_retried_or_failed"] == 1
    view = (await client.get(path, headers=auth(settings))).json()
    assert view["status"] == "partially_failed"
    assert view["holders"][2] | {"requested_at": None} == {
        "service": "privacy-probe-silent", "status": "failed", "attempts": 2, "retrying": False, "counts": {},
        "error": "no answer", "answered_at": None, "requested_at": None}
    r = await client.get(f"{path}/bundle", headers=auth(settings))
    assert r.status_code == 409 and "partially_failed" in r.json()["detail"]


async def test_the_worker_loop_fans_out_a_due_deletion_by_itself(start_service, holders, settings):
    config.use(config.current().model_copy(update={"tick_seconds": 0.1}))
    runtime = await start_service(service)  # workers on
    async with api_client(runtime) as client:
        d = (await client.post("/v1/privacy/deletions", json={"subject": S1, "window_days": 0},
                               headers=auth(settings))).json()
        await status_is(client, settings, f"/v1/privacy/deletions/{d['request_id']}", "complete")
    assert await probes.notes(holders[0]) == [("acme", "a k2"), ("globex", "a globex")]


async def test_an_unreadable_box_fails_its_holder_and_answers_from_another_tenant_are_ignored(orchestrator, client,
                                                                                             settings, bus):
    config.use(config.current().model_copy(update={"holders": "privacy-probe-x"}))
    job_id = (await client.post("/v1/privacy/exports", json={"subject": S1}, headers=auth(settings))).json()["job_id"]
    path = f"/v1/privacy/exports/{job_id}"
    async with orchestrator.pool.acquire() as conn:
        public_key = await conn.fetchval("SELECT public_key FROM requests WHERE request_id = $1", job_id)
    subject = orchestrator.naming.subject("privacy.export.answered.v1")

    async def answer(box, tenant="acme"):
        event = new_event("privacy.export.answered.v1", {
            "job_id": job_id, "service": "privacy-probe-x", "status": "ok", "record_counts": {"people": 1},
            "sealed": box.model_dump(), "answered_at": T0}, source="privacy-probe-x", tenantid=tenant)
        await bus.publish(subject, event.to_json(), headers={"Nats-Msg-Id": event.msg_id})
        return event

    records = json.dumps({"service": "privacy-probe-x", "records": {"people": [{"note": "x"}]}}).encode()
    await answer(seal(public_key, records), tenant="globex")  # right key, wrong tenant: ignored
    await answer(seal(new_keypair()[1], records))            # sealed to another key: cannot be opened

    async def failed():
        view = (await client.get(path, headers=auth(settings))).json()
        return view if view["holders"][0]["status"] == "failed" else None
    view = await eventually(failed, timeout=30)
    assert view["status"] == "collecting" and view["holders"][0]["error"] == "the sealed answer could not be opened"
    assert [s for s, _ in steps(view)] == ["requested", "fanned_out", "answered", "answer_unreadable"]

    await answer(seal(public_key, records))  # a good late answer still completes the job
    await status_is(client, settings, path, "complete")
    bundle = (await client.get(f"{path}/bundle", headers=auth(settings))).json()
    assert bundle["services"] == {"privacy-probe-x": {"people": [{"note": "x"}]}}
