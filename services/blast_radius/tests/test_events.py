"""governance.proposal.decided.v1 in, readiness re-signalled, over real NATS + Postgres."""

from __future__ import annotations

import pytest

from services.blast_radius.service import service
from services.blast_radius.tests.support import OTHER, auth, count, decision, publish, signals
from summit_common import dlq
from tests.helpers import eventually

pytestmark = pytest.mark.integration

# Removing a field gamma alone consumes: breaking, risk 0.4626, below the default threshold 0.5.
LOW_RISK_BREAKING = {"kind": "schema_diff", "contract": "demo.alpha.scored.v1", "changes": [{"path": "id", "change": "removed"}],
                     "proposal_id": "P-1"}


async def _assess(client, settings, bundle=LOW_RISK_BREAKING) -> dict:
    r = await client.post("/v1/impact/assess", json=bundle, headers=auth(settings))
    assert r.status_code == 201, r.text
    return r.json()


async def _wait_ready(client, settings, assessment_id: str, ready: bool) -> dict:
    async def check():
        body = (await client.get(f"/v1/impact/{assessment_id}", headers=auth(settings))).json()
        return body if body["ready"] is ready else None

    return await eventually(check, timeout=30)


async def test_an_approval_makes_a_waiting_assessment_ready_and_signals_it(client, runtime, bus, settings):
    created = await _assess(client, settings)
    assert created["ready"] is False and created["risk_score"] < 0.5
    assert created["readiness"]["reasons"] == ["breaking change #0 to demo.alpha.scored.v1: proposal P-1 has no decision yet"]

    await publish(bus, runtime, decision("P-1", "demo.alpha.scored.v1"))
    body = await _wait_ready(client, settings, created["assessment_id"], True)
    assert body["signals"] == 2
    assert body["readiness"]["reasons"] == [f"risk {created['risk_score']} is below the threshold 0.5",
                                           "breaking change #0 to demo.alpha.scored.v1 is approved by proposal P-1"]
    assert body["readiness"]["proposals"][0]["decision"] == "approved"
    assert body["report"] == created["report"]  # the report does not change, only readiness

    sent = await signals(bus, runtime, at_least=2)
    assert [s["data"]["ready"] for s in sent] == [False, True]
    assert {s["subject"] for s in sent} == {created["assessment_id"]}
    assert sent[1]["causationid"] is not None  # caused by the decision event


async def test_an_approval_known_before_the_assessment_counts_at_once(client, runtime, bus, settings):
    await publish(bus, runtime, decision("P-1", "demo.alpha.scored.v1"))
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 1 FROM proposals"))
    created = await _assess(client, settings)
    assert created["ready"] is True


async def test_a_redelivered_decision_has_one_effect(client, runtime, bus, settings):
    created = await _assess(client, settings)
    event = decision("P-1", "demo.alpha.scored.v1")
    # Different Nats-Msg-Ids get past JetStream's dedupe window: the inbox must catch them.
    for n in range(3):
        await publish(bus, runtime, event, msg_id=f"{event.msg_id}-{n}")
    # The same decision again under a new event id (a re-publish): not newer, so no effect either.
    await publish(bus, runtime, decision("P-1", "demo.alpha.scored.v1"))
    # A later, unrelated decision on the same consumer, so we know the duplicates were handled.
    await publish(bus, runtime, decision("P-9", "demo.gamma.done.v1", minutes=5))
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 3 FROM inbox"))  # 3 distinct (source, id)

    async def duplicates_skipped():
        return runtime.metrics.duplicates._value.get() >= 2

    await eventually(duplicates_skipped)
    body = await _wait_ready(client, settings, created["assessment_id"], True)
    assert body["signals"] == 2
    assert len(await signals(bus, runtime, at_least=2)) == 2
    assert await count(runtime, "proposals") == 2


async def test_a_later_rejection_flips_it_back_and_an_older_decision_changes_nothing(client, runtime, bus, settings):
    created = await _assess(client, settings)
    await publish(bus, runtime, decision("P-1", "demo.alpha.scored.v1", minutes=10))
    await _wait_ready(client, settings, created["assessment_id"], True)
    await publish(bus, runtime, decision("P-1", "demo.alpha.scored.v1", "rejected", minutes=5))  # older: ignored
    await publish(bus, runtime, decision("P-1", "demo.alpha.scored.v1", "rejected", minutes=20))
    body = await _wait_ready(client, settings, created["assessment_id"], False)
    assert body["readiness"]["reasons"] == ["breaking change #0 to demo.alpha.scored.v1: proposal P-1 was rejected"]
    assert body["signals"] == 3
    assert [s["data"]["ready"] for s in await signals(bus, runtime, at_least=3)] == [False, True, False]


async def test_an_approval_for_another_contract_or_tenant_does_not_count(client, runtime, bus, settings):
    created = await _assess(client, settings)
    await publish(bus, runtime, decision("P-1", "demo.alpha.scored.v1", tenant=OTHER))
    await publish(bus, runtime, decision("P-1", "demo.item.created.v1"))
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 2 FROM proposals"))

    async def reasons():
        body = (await client.get(f"/v1/impact/{created['assessment_id']}", headers=auth(settings))).json()
        return body if "not demo.alpha.scored.v1" in " ".join(body["readiness"]["reasons"]) else None

    body = await eventually(reasons)
    assert body["ready"] is False and body["signals"] == 1  # reasons were refreshed, readiness did not flip: no new signal
    assert body["readiness"]["reasons"] == [
        "breaking change #0 to demo.alpha.scored.v1: proposal P-1 is for demo.item.created.v1, not demo.alpha.scored.v1"]


async def test_an_invalid_decision_goes_to_the_dlq_and_changes_nothing(client, runtime, bus, settings):
    created = await _assess(client, settings)
    await publish(bus, runtime, decision("P-1", "demo.alpha.scored.v1", decision="maybe"))
    await publish(bus, runtime, decision("P-1", "demo.alpha.scored.v1", decided_at="yesterday"))

    async def dead() -> list:
        entries = await dlq.list_entries(bus, runtime.naming, service.name)
        return entries if len(entries) >= 2 else None

    entries = await eventually(dead)
    assert sorted(e.reason for e in entries) == ["invalid_data", "invalid_data"]
    assert all(e.delivery_count == 1 for e in entries)  # never retried
    assert await count(runtime, "proposals") == 0
    body = (await client.get(f"/v1/impact/{created['assessment_id']}", headers=auth(settings))).json()
    assert body["ready"] is False and body["signals"] == 1
