"""The safety gate over real NATS JetStream and Postgres: texts wait for screening; clear ones
are scored; held ones wait for a review that approves (scored) or rejects (discarded); facts
arrive in any order."""

from __future__ import annotations

import pytest

from services.q2q_ai.service import provider
from services.q2q_ai.tests.support import (
    FEEDBACK,
    OTHER_TENANT,
    REVIEWED,
    SCREENED,
    auth,
    count,
    emitted,
    feedback,
    handled,
    item,
    outcomes,
    publish,
    reviewed,
    screened,
    wait_status,
)

pytestmark = pytest.mark.integration

TEXT = ("Hi, my name is Amira Haddad, mail amira.h@example.com or call +47 912 34 567. "
        "At first I was very nervous. Now I feel much more confident! I made friends in the choir.")


async def test_a_text_waits_for_screening_and_a_clear_verdict_scores_it(runtime, bus, client, settings):
    await publish(bus, runtime, FEEDBACK, feedback("F-1", TEXT))
    waiting = await wait_status(runtime, FEEDBACK, "F-1", "awaiting_screening")
    # Only masked text is ever stored.
    assert "amira" not in waiting["masked_text"].lower() and "912" not in waiting["masked_text"]
    assert waiting["masked_text"].startswith("Hi, my name is [NAME], mail [EMAIL] or call [PHONE].")
    assert await count(runtime, "outcome_scores") == 0

    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-1", "clear"))
    done = await wait_status(runtime, FEEDBACK, "F-1", "scored")
    assert done["model_version"] == provider.model_version

    scores = await outcomes(client, settings)
    assert {s["dimension"] for s in scores} == {"confidence", "belonging"}
    for score in scores:
        assert score["participant"] == {"system": "buddy", "id": "B-1"}
        assert (score["source_type"], score["source_id"]) == (FEEDBACK, "F-1")
        assert score["model_version"] == provider.model_version
        assert 0 <= score["value"] <= 1 and 0 <= score["confidence"] <= 1
        assert score["explanation"] and score["evidence_ids"]
        for evidence_id in score["evidence_ids"]:
            r = await client.get(f"/v1/evidence/{evidence_id}", headers=auth(settings))
            assert r.status_code == 200, r.text
            evidence = r.json()
            assert "@" not in evidence["snippet"] and "912" not in evidence["snippet"]
            assert {"score_id": score["score_id"], "dimension": score["dimension"]} in evidence["cited_by"]
    belonging = next(s for s in scores if s["dimension"] == "belonging")
    assert [e["cue"] for e in belonging["explanation"]] == ["made friends"]

    events = await emitted(bus, runtime, at_least=2)
    assert sorted(e["data"]["score_id"] for e in events) == sorted(s["score_id"] for s in scores)
    for event in events:
        assert event["tenantid"] == "acme" and event["subject"] == event["data"]["score_id"]
        match = next(s for s in scores if s["score_id"] == event["data"]["score_id"])
        assert event["data"]["evidence_ids"] == match["evidence_ids"]
        assert (event["data"]["value"], event["data"]["dimension"]) == (match["value"], match["dimension"])
        assert event["data"]["participant"] == {"system": "buddy", "id": "B-1"}


async def test_a_screening_that_overtakes_its_text_is_applied_when_the_text_arrives(runtime, bus, client, settings):
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-2", "clear"))
    early = await wait_status(runtime, FEEDBACK, "F-2", "awaiting_text")
    assert early["masked_text"] is None and early["verdict"] == "clear"
    await publish(bus, runtime, FEEDBACK, feedback("F-2", "I feel lonely here."))
    await wait_status(runtime, FEEDBACK, "F-2", "scored")
    [score] = await outcomes(client, settings)
    assert score["dimension"] == "belonging" and score["value"] < 0.5
    assert len(await emitted(bus, runtime, at_least=1)) == 1


async def test_held_then_approved_is_scored(runtime, bus, client, settings):
    await publish(bus, runtime, FEEDBACK, feedback("F-3", "I had a job interview."))
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-3", "held", "FLAG-3"))
    held = await wait_status(runtime, FEEDBACK, "F-3", "awaiting_review")
    assert held["flag_id"] == "FLAG-3"
    await publish(bus, runtime, REVIEWED, reviewed("FLAG-3", "F-3", "approved"))
    await wait_status(runtime, FEEDBACK, "F-3", "scored")
    assert [s["dimension"] for s in await outcomes(client, settings)] == ["job_readiness"]


async def test_held_then_rejected_is_discarded_and_never_scored(runtime, bus, client, settings):
    await publish(bus, runtime, FEEDBACK, feedback("F-4", "I feel lonely and I hate everyone."))
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-4", "held", "FLAG-4"))
    await wait_status(runtime, FEEDBACK, "F-4", "awaiting_review")
    await publish(bus, runtime, REVIEWED, reviewed("FLAG-4", "F-4", "rejected"))
    gone = await wait_status(runtime, FEEDBACK, "F-4", "discarded")
    assert gone["masked_text"] is None and gone["text_sha256"] is not None
    # A later approval of the same flag does not resurrect it.
    late = await publish(bus, runtime, REVIEWED, reviewed("FLAG-4", "F-4", "approved"))
    await handled(runtime, late)
    assert (await item(runtime, FEEDBACK, "F-4"))["status"] == "discarded"
    assert await count(runtime, "outcome_scores") == 0 and await count(runtime, "evidence_snippets") == 0
    assert await count(runtime, "outbox") == 0
    assert await outcomes(client, settings) == []


async def test_escalated_keeps_waiting_until_a_final_decision(runtime, bus, client, settings):
    await publish(bus, runtime, FEEDBACK, feedback("F-5", "I am proud of myself."))
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-5", "held", "FLAG-5"))
    escalated = await publish(bus, runtime, REVIEWED, reviewed("FLAG-5", "F-5", "escalated"))
    await handled(runtime, escalated)
    still = await wait_status(runtime, FEEDBACK, "F-5", "awaiting_review")
    assert still["review_decision"] == "escalated"
    await publish(bus, runtime, REVIEWED, reviewed("FLAG-5", "F-5", "approved"))
    await wait_status(runtime, FEEDBACK, "F-5", "scored")
    assert [s["dimension"] for s in await outcomes(client, settings)] == ["confidence"]


async def test_review_before_screening_before_text_is_scored(runtime, bus, client, settings):
    first = await publish(bus, runtime, REVIEWED, reviewed("FLAG-6", "F-6", "approved"))
    await handled(runtime, first)
    assert await item(runtime, FEEDBACK, "F-6") is None  # a review alone names no content type: kept aside
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-6", "held", "FLAG-6"))
    early = await wait_status(runtime, FEEDBACK, "F-6", "awaiting_text")
    assert early["review_decision"] == "approved"
    await publish(bus, runtime, FEEDBACK, feedback("F-6", "They welcomed me warmly."))
    await wait_status(runtime, FEEDBACK, "F-6", "scored")
    assert [s["dimension"] for s in await outcomes(client, settings)] == ["belonging"]


async def test_rejected_before_the_text_arrives_means_the_text_is_never_stored(runtime, bus, client, settings):
    await publish(bus, runtime, REVIEWED, reviewed("FLAG-7", "F-7", "rejected"))
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-7", "held", "FLAG-7"))
    await wait_status(runtime, FEEDBACK, "F-7", "discarded")
    text = await publish(bus, runtime, FEEDBACK, feedback("F-7", "I am nervous."))
    await handled(runtime, text)
    after = await item(runtime, FEEDBACK, "F-7")
    assert after["status"] == "discarded"
    assert after["masked_text"] is None and after["text_sha256"] is None and after["text_event_id"] is None
    assert await count(runtime, "outcome_scores") == 0


async def test_a_review_for_another_content_id_does_not_release_the_item(runtime, bus, client, settings):
    await publish(bus, runtime, FEEDBACK, feedback("F-8", "I feel confident."))
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-8", "held", "FLAG-8"))
    await wait_status(runtime, FEEDBACK, "F-8", "awaiting_review")
    wrong = await publish(bus, runtime, REVIEWED, reviewed("FLAG-8", "F-999", "approved"))
    await handled(runtime, wrong)
    assert (await item(runtime, FEEDBACK, "F-8"))["status"] == "awaiting_review"


async def test_the_first_verdict_stands(runtime, bus, client, settings):
    await publish(bus, runtime, FEEDBACK, feedback("F-9", "I feel confident."))
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-9", "held", "FLAG-9"))
    await wait_status(runtime, FEEDBACK, "F-9", "awaiting_review")
    again = await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-9", "clear"))
    await handled(runtime, again)
    assert (await item(runtime, FEEDBACK, "F-9"))["status"] == "awaiting_review"
    assert await count(runtime, "outcome_scores") == 0


async def test_a_screening_in_one_tenant_does_not_release_another_tenants_text(runtime, bus, client, settings):
    await publish(bus, runtime, FEEDBACK, feedback("F-10", "I feel lonely."), tenant=OTHER_TENANT)
    await publish(bus, runtime, FEEDBACK, feedback("F-10", "I feel proud."))
    await wait_status(runtime, FEEDBACK, "F-10", "awaiting_screening", tenant=OTHER_TENANT)
    await publish(bus, runtime, SCREENED, screened(FEEDBACK, "F-10", "clear"))
    await wait_status(runtime, FEEDBACK, "F-10", "scored")
    assert (await item(runtime, FEEDBACK, "F-10", tenant=OTHER_TENANT))["status"] == "awaiting_screening"
    assert [s["dimension"] for s in await outcomes(client, settings)] == ["confidence"]
    assert await outcomes(client, settings, tenant=OTHER_TENANT) == []
