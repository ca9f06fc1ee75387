"""Events in, screenings, flags and events out, over real NATS JetStream and Postgres."""

from __future__ import annotations

import json

import pytest

from services.safety_moderation import domain, policy
from services.safety_moderation.config import DEFAULT_POLICY_PATH, SafetySettings
from services.safety_moderation.service import service
from services.safety_moderation.tests.factories import event_data
from services.safety_moderation.tests.support import (
    FEEDBACK,
    FLAG_RAISED,
    OTHER_TENANT,
    SELF_HARM,
    TENANT,
    TEXT_SCREENED,
    auth,
    count,
    emitted,
    outbox_flushed,
    publish,
    publish_text,
    screened,
)
from summit_common import dlq
from summit_common.runtime import ServiceRuntime
from summit_contracts import new_event
from tests.helpers import eventually

pytestmark = pytest.mark.integration


async def test_a_clean_feedback_is_screened_clear_and_nothing_of_its_text_is_kept(runtime, bus, client, settings):
    text = "Thanks! The buddy session at the library was great and I practised a lot."
    event = await publish_text(bus, runtime, "FB-1", text)
    [row] = await screened(runtime, "FB-1")
    assert (row["outcome"], row["verdict"], row["flag_id"]) == ("clear", "clear", None)
    assert row["content_sha256"] == domain.content_digest(text)

    [out] = await emitted(bus, runtime, TEXT_SCREENED, at_least=1, content_id="FB-1")
    assert out["data"] == {
        "content_type": FEEDBACK, "content_id": "FB-1", "verdict": "clear", "flag_id": None,
        "policy_version": policy.holder().policy.version, "screened_at": out["data"]["screened_at"],
    }
    assert (out["tenantid"], out["subject"], out["causationid"], out["source"]) == (TENANT, "FB-1", event.id, service.name)
    assert await emitted(bus, runtime, FLAG_RAISED) == []
    assert await count(runtime, "flags") == 0

    gate = await client.get(f"/v1/screenings/{FEEDBACK}/FB-1", headers=auth(settings, roles=("company_user",)))
    assert gate.status_code == 200, gate.text
    assert gate.json()["verdict"] == "clear" and gate.json()["releasable"] is True


@pytest.mark.parametrize(("event_type", "content_id"), [
    ("buddy.checkin.completed.v1", "CI-1"), ("kintell.session.completed.v1", "S-1"), ("kintell.rating.created.v1", "S-1:participant"),
])
async def test_every_text_carrying_event_is_screened_by_its_own_record_id(runtime, bus, event_type, content_id):
    await publish_text(bus, runtime, content_id, "call me on 912 34 567", event_type=event_type)
    [row] = await screened(runtime, content_id)
    assert (row["content_type"], row["verdict"]) == (event_type, "held")
    [out] = await emitted(bus, runtime, TEXT_SCREENED, at_least=1, content_id=content_id)
    assert out["data"]["content_type"] == event_type and out["data"]["flag_id"] == str(row["flag_id"])


async def test_events_without_text_still_get_a_clear_verdict(runtime, bus):
    await publish_text(bus, runtime, "CI-9", None, event_type="buddy.checkin.completed.v1")
    await publish_text(bus, runtime, "FB-9", "   ")
    for content_id in ("CI-9", "FB-9"):
        [row] = await screened(runtime, content_id)
        assert row["verdict"] == "clear" and row["content_sha256"] == domain.content_digest(None)
    outs = await emitted(bus, runtime, TEXT_SCREENED, at_least=2)
    assert {(e["data"]["content_id"], e["data"]["verdict"]) for e in outs} == {("CI-9", "clear"), ("FB-9", "clear")}


async def test_a_self_harm_feedback_is_held_flagged_and_queued_for_review(runtime, bus, client, settings):
    event = await publish_text(bus, runtime, "FB-2", SELF_HARM)
    [row] = await screened(runtime, "FB-2")
    flag_id = str(row["flag_id"])
    assert row["verdict"] == "held" and row["outcome"] == "held"

    [screen_event] = await emitted(bus, runtime, TEXT_SCREENED, at_least=1, content_id="FB-2")
    assert screen_event["data"]["verdict"] == "held" and screen_event["data"]["flag_id"] == flag_id
    [flag_event] = await emitted(bus, runtime, FLAG_RAISED, at_least=1, flag_id=flag_id)
    assert flag_event["data"] == {
        "flag_id": flag_id, "content_type": FEEDBACK, "content_id": "FB-2", "category": "self_harm",
        "severity": "critical", "rule_id": "self-harm-phrases", "excerpt": SELF_HARM,
    }
    assert (flag_event["subject"], flag_event["tenantid"], flag_event["causationid"]) == (flag_id, TENANT, event.id)

    pending = await client.get("/v1/reviews", params={"status": "pending"}, headers=auth(settings))
    assert pending.status_code == 200, pending.text
    [item] = pending.json()["items"]
    assert (item["flag_id"], item["status"], item["held"], item["category"]) == (flag_id, "pending", True, "self_harm")
    detail = (await client.get(f"/v1/reviews/{flag_id}", headers=auth(settings))).json()
    assert detail["masked_text"] == SELF_HARM and detail["content_sha256"] == domain.content_digest(SELF_HARM)
    assert detail["matches"] == [{"rule_id": "self-harm-phrases", "category": "self_harm", "severity": "critical",
                                  "action": "hold", "count": 1}]

    gate = (await client.get(f"/v1/screenings/{FEEDBACK}/FB-2", headers=auth(settings))).json()
    assert (gate["verdict"], gate["review_status"], gate["releasable"]) == ("held", "pending", False)


async def test_pii_never_leaves_the_service_or_reaches_its_tables(runtime, bus, client, settings):
    text = "Please call me on +47 912 34 567 or mail kari.nordmann@example.no, my id is 01019912345."
    await publish_text(bus, runtime, "FB-3", text)
    [row] = await screened(runtime, "FB-3")
    assert row["verdict"] == "held"
    [flag_event] = await emitted(bus, runtime, FLAG_RAISED, at_least=1, content_id="FB-3")
    assert flag_event["data"]["category"] == "pii_leak" and flag_event["data"]["severity"] == "high"

    raw_values = ["912 34 567", "kari.nordmann@example.no", "01019912345", "nordmann"]
    detail = (await client.get(f"/v1/reviews/{row['flag_id']}", headers=auth(settings))).json()
    assert detail["masked_text"] == "Please call me on [PHONE] or mail [EMAIL], my id is [PII]."
    async with runtime.pool.acquire() as conn:
        stored = [json.dumps([dict(r) for r in await conn.fetch(f"SELECT * FROM {t}")], default=str)
                  for t in ("flags", "screenings")]
        stored += [bytes(r["payload"]).decode() for r in await conn.fetch("SELECT payload FROM outbox")]
    for blob in [*stored, json.dumps(flag_event), json.dumps(detail)]:
        for value in raw_values:
            assert value not in blob


async def test_a_flag_only_match_is_reviewed_but_not_held(runtime, bus, client, settings):
    await publish_text(bus, runtime, "FB-4", "my buddy is a bit of an idiot sometimes")
    [row] = await screened(runtime, "FB-4")
    assert (row["outcome"], row["verdict"]) == ("flagged", "clear") and row["flag_id"] is not None
    [screen_event] = await emitted(bus, runtime, TEXT_SCREENED, at_least=1, content_id="FB-4")
    assert screen_event["data"]["verdict"] == "clear" and screen_event["data"]["flag_id"] is None
    [flag_event] = await emitted(bus, runtime, FLAG_RAISED, at_least=1, content_id="FB-4")
    assert (flag_event["data"]["category"], flag_event["data"]["severity"]) == ("abuse", "low")
    [item] = (await client.get("/v1/reviews", headers=auth(settings))).json()["items"]
    assert item["held"] is False and item["status"] == "pending"


async def test_a_redelivered_event_raises_one_flag(runtime, bus):
    event = new_event(FEEDBACK, event_data(FEEDBACK, "FB-5", SELF_HARM), source="test", tenantid=TENANT)
    # Different Nats-Msg-Ids get past JetStream's dedupe window: the inbox must catch them.
    for n in range(3):
        await publish(bus, runtime, event, msg_id=f"{event.msg_id}-{n}")
    # The same text of the same record under a NEW event id (a producer re-publish): screened once.
    await publish(bus, runtime, new_event(FEEDBACK, event_data(FEEDBACK, "FB-5", SELF_HARM), source="test", tenantid=TENANT))
    await publish_text(bus, runtime, "FB-after", "all good")  # same consumer, after all of them
    await screened(runtime, "FB-after")

    assert len(await screened(runtime, "FB-5")) == 1
    assert await count(runtime, "flags") == 1
    assert len(await emitted(bus, runtime, FLAG_RAISED, content_id="FB-5")) == 1
    assert len(await emitted(bus, runtime, TEXT_SCREENED, at_least=2, content_id="FB-5")) == 1
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_type = $1", FEEDBACK) == 3  # 2 events + sentinel


async def test_an_edited_text_of_the_same_record_is_screened_again(runtime, bus):
    await publish_text(bus, runtime, "FB-6", "all fine")
    await screened(runtime, "FB-6")
    await publish_text(bus, runtime, "FB-6", SELF_HARM)
    rows = await screened(runtime, "FB-6", at_least=2)
    assert [r["verdict"] for r in rows] == ["clear", "held"]
    outs = await emitted(bus, runtime, TEXT_SCREENED, at_least=2, content_id="FB-6")
    assert sorted(e["data"]["verdict"] for e in outs) == ["clear", "held"]


async def test_invalid_events_go_to_the_dlq_and_store_nothing(runtime, bus):
    too_long = event_data(FEEDBACK, "FB-7", "x" * 10_001)
    await publish(bus, runtime, new_event(FEEDBACK, too_long, source="test", tenantid=TENANT))
    no_id = {k: v for k, v in event_data(FEEDBACK, "FB-8", SELF_HARM).items() if k != "feedback_id"}
    await publish(bus, runtime, new_event(FEEDBACK, no_id, source="test", tenantid=TENANT))

    async def two_entries():
        entries = await dlq.list_entries(bus, runtime.naming, service.name)
        return entries if len(entries) >= 2 else None

    entries = await eventually(two_entries, timeout=30)
    assert sorted(e.reason for e in entries) == ["invalid_data", "invalid_data"]
    assert any("text" in e.error for e in entries) and any("feedback_id" in e.error for e in entries)
    assert all(e.delivery_count == 1 for e in entries)  # never retried
    await publish_text(bus, runtime, "FB-ok", "fine")  # the consumer is still healthy
    await screened(runtime, "FB-ok")
    assert await count(runtime, "screenings") == 1 and await count(runtime, "flags") == 0


async def test_tenants_are_screened_and_queued_apart(runtime, bus, client, settings):
    await publish_text(bus, runtime, "FB-10", SELF_HARM, tenant=OTHER_TENANT)
    [row] = await screened(runtime, "FB-10", tenant=OTHER_TENANT)
    [out] = await emitted(bus, runtime, FLAG_RAISED, at_least=1, content_id="FB-10")
    assert out["tenantid"] == OTHER_TENANT
    assert (await client.get("/v1/reviews", headers=auth(settings))).json()["items"] == []
    theirs = (await client.get("/v1/reviews", headers=auth(settings, tenant=OTHER_TENANT))).json()["items"]
    assert [i["flag_id"] for i in theirs] == [str(row["flag_id"])]


async def test_two_replicas_screen_each_text_once(settings, bus, safety_settings):
    policy.configure(safety_settings)
    replicas = [ServiceRuntime(service, settings) for _ in range(2)]
    for replica in replicas:
        await replica.start()
    try:
        n = 20
        for i in range(n):
            text = SELF_HARM if i % 2 == 0 else "a fine day at the language cafe"
            await publish_text(bus, replicas[0], f"FB-{i}", text)
            await publish_text(bus, replicas[0], f"FB-{i}", text)  # the same text again, under a new event id

        async def all_handled():
            async with replicas[0].pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM inbox") >= 2 * n

        await eventually(all_handled, timeout=60)
        assert await count(replicas[0], "screenings") == n
        assert await count(replicas[0], "flags") == n // 2
        for replica in replicas:
            await outbox_flushed(replica)
        screened_events = await emitted(bus, replicas[0], TEXT_SCREENED, at_least=n)
        assert sorted(e["data"]["content_id"] for e in screened_events) == sorted(f"FB-{i}" for i in range(n))
        assert len(await emitted(bus, replicas[0], FLAG_RAISED, at_least=n // 2)) == n // 2
        handled = sum(r.metrics.registry.get_sample_value("summit_events_handled_total", {"type": FEEDBACK}) or 0
                      for r in replicas)
        assert handled == 2 * n
    finally:
        for replica in replicas:
            await replica.stop()
        policy.configure(SafetySettings(policy_path=DEFAULT_POLICY_PATH, policy_check_seconds=10))
