"""Texts from every source, redelivery, poison events and the two-replica case, over real
NATS JetStream and Postgres."""

from __future__ import annotations

import hashlib

import pytest

from services.q2q_ai.service import service
from services.q2q_ai.tests.support import (
    CHECKIN,
    FEEDBACK,
    RATING,
    SCREENED,
    SESSION,
    auth,
    checkin,
    count,
    emitted,
    evidence_emitted,
    feedback,
    handled,
    item,
    outcomes,
    publish,
    rating,
    ref,
    screened,
    session,
    wait_status,
)
from summit_common import dlq
from summit_common.runtime import ServiceRuntime
from summit_contracts import new_event
from tests.helpers import eventually

pytestmark = pytest.mark.integration


async def test_every_text_source_is_scored_for_its_participant(runtime, bus, client, settings):
    await publish(bus, runtime, CHECKIN, checkin("C-1", "Seems lonely, no friends yet.", participant=ref("buddy", "B-2")))
    await publish(bus, runtime, SESSION, session("S-1", "Ingrid Hansen noted: understood everything, B2 level.",
                                                 participant=ref("kintell", "K-3")))
    await publish(bus, runtime, RATING, rating("R-1", "Great mentor, I got a job offer!", rated_by=ref("kintell", "K-4")))
    for content_type, content_id in ((CHECKIN, "C-1"), (SESSION, "S-1"), (RATING, "R-1")):
        await publish(bus, runtime, SCREENED, screened(content_type, content_id, "clear"))
        await wait_status(runtime, content_type, content_id, "scored")

    by_source = {}
    for score in await outcomes(client, settings):
        by_source.setdefault(score["source_id"], []).append(score)
    assert {s["dimension"] for s in by_source["C-1"]} == {"belonging"}
    assert by_source["C-1"][0]["participant"] == {"system": "buddy", "id": "B-2"}
    assert by_source["C-1"][0]["value"] < 0.5
    assert {s["dimension"] for s in by_source["S-1"]} == {"language_level_proxy"}
    assert by_source["S-1"][0]["participant"] == {"system": "kintell", "id": "K-3"}
    assert by_source["S-1"][0]["value"] > 0.5
    assert {s["dimension"] for s in by_source["R-1"]} == {"job_readiness"}
    assert by_source["R-1"][0]["participant"] == {"system": "kintell", "id": "K-4"}  # rated_by, a participant
    # The volunteer's name from the session event is masked in the stored text.
    assert (await item(runtime, SESSION, "S-1"))["masked_text"].startswith("[NAME] noted:")
    assert len(await emitted(bus, runtime, at_least=3)) == 3


async def test_each_cited_snippet_is_announced_once_with_the_dimensions_citing_it(runtime, bus, client, settings):
    text = "I feel welcome here. I am proud of my progress, mail me at a@b.no."
    await publish(bus, runtime, FEEDBACK, feedback("F-7", text, participant=ref("buddy", "B-7"), minute=5))
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-7", "clear"))
    await wait_status(runtime, FEEDBACK, "F-7", "scored")

    scores = await outcomes(client, settings)
    cited = {e for s in scores for e in s["evidence_ids"]}
    events = await evidence_emitted(bus, runtime, at_least=len(cited))
    assert sorted(e["subject"] for e in events) == sorted(cited)  # one per stored snippet, subject = evidence_id
    for event in events:
        data = event["data"]
        stored = (await client.get(f"/v1/evidence/{data['evidence_id']}", headers=auth(settings))).json()
        assert (data["snippet"], data["snippet_sha256"]) == (stored["snippet"], stored["snippet_sha256"])
        assert data["snippet_sha256"] == hashlib.sha256(data["snippet"].encode()).hexdigest()
        assert "a@b.no" not in data["snippet"]  # masked, as stored
        assert sorted(data["dimensions"]) == sorted(c["dimension"] for c in stored["cited_by"]) != []
        assert (data["program"], data["source_type"], data["source_id"]) == ("buddy", FEEDBACK, "F-7")
        assert data["participant"] == {"system": "buddy", "id": "B-7"}
        assert data["observed_at"] == "2025-03-01T09:05:00Z"


async def test_texts_without_a_participant_or_without_text_are_not_stored(runtime, bus, client, settings):
    volunteer = await publish(bus, runtime, RATING, rating("R-2", "Motivated learner, confident.", role="volunteer",
                                                           rated_by=ref("kintell", "V-1")))
    empty = await publish(bus, runtime, FEEDBACK, feedback("F-0", "   "))
    none = await publish(bus, runtime, CHECKIN, checkin("C-0", None))
    for event in (volunteer, empty, none):
        await handled(runtime, event)
    assert await count(runtime, "text_items") == 0


async def test_a_redelivered_event_has_one_effect(runtime, bus, client, settings):
    text = new_event(FEEDBACK, feedback("F-1", "I feel welcome. I am proud."), source="test", tenantid="acme")
    clear = new_event(SCREENED, screened(FEEDBACK, "F-1", "clear"), source="test", tenantid="acme")
    # Different Nats-Msg-Ids get past JetStream's dedupe window: the inbox must catch them.
    for n in range(3):
        await publish(bus, runtime, FEEDBACK, {}, event=text, msg_id=f"{text.msg_id}-{n}")
        await publish(bus, runtime, SCREENED, {}, event=clear, msg_id=f"{clear.msg_id}-{n}")
    await wait_status(runtime, FEEDBACK, "F-1", "scored")
    # The same business fact under a new event id (a re-sent webhook, a re-import): no second scoring.
    again = await publish(bus, runtime, FEEDBACK, feedback("F-1", "I feel welcome. I am proud."))
    rescreen = await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-1", "clear"))
    await handled(runtime, again)
    await handled(runtime, rescreen)

    assert sorted(s["dimension"] for s in await outcomes(client, settings)) == ["belonging", "confidence"]
    assert await count(runtime, "outcome_scores") == 2
    assert await count(runtime, "evidence_snippets") == 2
    assert len(await emitted(bus, runtime, at_least=2)) == 2
    assert len(await evidence_emitted(bus, runtime, at_least=2)) == 2
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 4  # two events, twice each: 4 distinct ids


async def test_invalid_events_go_to_the_dlq_and_store_nothing(runtime, bus, client, settings):
    await publish(bus, runtime, SCREENED, {**screened(FEEDBACK, "F-1", "clear"), "verdict": "maybe"})
    await publish(bus, runtime, FEEDBACK, {**feedback("F-2", "I feel proud"), "participant": {"system": "Bad System", "id": "x"}})
    # Valid by the contract, impossible for the gate: a held verdict must name its flag.
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-3", "held", None))

    async def three():
        entries = await dlq.list_entries(bus, runtime.naming, service.name)
        return entries if len(entries) >= 3 else None

    entries = await eventually(three, timeout=30)
    assert sorted(e.reason for e in entries) == ["invalid_data", "invalid_data", "rejected_by_handler"]
    assert any("verdict" in e.error for e in entries)
    assert any("flag_id" in e.error for e in entries if e.reason == "rejected_by_handler")
    assert all(e.delivery_count == 1 for e in entries)  # never retried
    assert await count(runtime, "text_items") == 0


async def test_two_replicas_score_each_text_exactly_once(settings, bus):
    replicas = [ServiceRuntime(service, settings) for _ in range(2)]
    for r in replicas:
        await r.start()
    try:
        total = 30
        for n in range(total):
            target = replicas[n % 2]
            # Text and verdict race on different consumers and replicas; half the verdicts go first.
            first, second = (
                (FEEDBACK, feedback(f"F-{n}", f"I feel lonely. I had a job interview number {n}.", minute=n)),
                (SCREENED, screened(FEEDBACK, f"F-{n}", "clear")),
            )[:: 1 if n % 2 else -1]
            await publish(bus, target, *first)
            await publish(bus, replicas[(n + 1) % 2], *second)

        async def all_scored():
            async with replicas[0].pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM text_items WHERE status = 'scored'") == total

        await eventually(all_scored, timeout=60)
        async with replicas[0].pool.acquire() as conn:
            per_item = await conn.fetch("SELECT item_id, count(*) AS n FROM outcome_scores GROUP BY item_id")
        assert len(per_item) == total and all(r["n"] == 2 for r in per_item)
        for r in replicas[1:]:
            async with r.pool.acquire() as conn:
                await eventually(lambda c=conn: c.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))
        events = await emitted(bus, replicas[0], at_least=2 * total)
        assert len(events) == 2 * total
        assert len({e["data"]["score_id"] for e in events}) == 2 * total
    finally:
        for r in replicas:
            await r.stop()
