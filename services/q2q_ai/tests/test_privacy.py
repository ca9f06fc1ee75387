"""Data-subject requests over real NATS + Postgres: export holds only the participant's texts,
snippets, scores and reviews of the asking tenant; erasure deletes them, is idempotent, and
leaves other participants and tenants intact."""

from __future__ import annotations

import pytest

from services.q2q_ai.tests.support import (
    CHECKIN,
    FEEDBACK,
    OTHER_TENANT,
    REVIEWED,
    SCREENED,
    SESSION,
    checkin,
    feedback,
    item,
    publish,
    ref,
    reviewed,
    screened,
    session,
    wait_status,
)
from tests.dsar import erase, export_records, subject

pytestmark = pytest.mark.integration

A = subject(("buddy", "B-A"), ("kintell", "K-A"))
TEXT = "I feel welcome here. I am proud of my progress."


async def scored(bus, runtime, event_type, data, content_id, *, tenant="acme", flag=None):
    await publish(bus, runtime, event_type, data, tenant=tenant)
    await publish(bus, runtime, SCREENED, screened(event_type, content_id, "held" if flag else "clear", flag), tenant=tenant)
    if flag:
        await publish(bus, runtime, REVIEWED, reviewed(flag, content_id, "approved"), tenant=tenant)
    await wait_status(runtime, event_type, content_id, "scored", tenant=tenant)


async def test_export_and_erasure_of_a_participant(runtime, bus, client, settings):
    await scored(bus, runtime, FEEDBACK, feedback("F-A", TEXT, participant=ref("buddy", "B-A")), "F-A")
    await scored(bus, runtime, CHECKIN, checkin("C-A", "Seems lonely, no friends yet.", participant=ref("buddy", "B-A")),
                 "C-A", flag="FL-1")
    await scored(bus, runtime, SESSION, session("S-A", "Understood everything, B2 level.", participant=ref("kintell", "K-A")),
                 "S-A")
    await scored(bus, runtime, FEEDBACK, feedback("F-B", TEXT, participant=ref("buddy", "B-B")), "F-B")
    await scored(bus, runtime, FEEDBACK, feedback("F-A", TEXT, participant=ref("buddy", "B-A")), "F-A", tenant=OTHER_TENANT)

    answer, records = await export_records(bus, runtime, "acme", A)
    assert sorted(i["content_id"] for i in records["text_items"]) == ["C-A", "F-A", "S-A"]
    assert {s["participant"]["id"] for s in records["outcome_scores"]} == {"B-A", "K-A"}
    assert len(records["outcome_scores"]) >= 3 and records["evidence_snippets"]
    assert [(r["flag_id"], r["decision"]) for r in records["reviews"]] == [("FL-1", "approved")]
    assert TEXT in {i["masked_text"] for i in records["text_items"]}

    counts = await erase(bus, runtime, "acme", A)
    assert counts == {k: len(v) for k, v in records.items()}
    for content_type, content_id in ((FEEDBACK, "F-A"), (CHECKIN, "C-A"), (SESSION, "S-A")):
        assert await item(runtime, content_type, content_id) is None
    assert (await item(runtime, FEEDBACK, "F-B"))["status"] == "scored"
    assert (await item(runtime, FEEDBACK, "F-A", tenant=OTHER_TENANT))["status"] == "scored"
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outcome_scores WHERE participant_id = 'B-A'") >= 1  # globex's
        assert await conn.fetchval("SELECT count(*) FROM evidence_snippets WHERE tenant_id = 'acme'") >= 1  # B's
    assert set((await erase(bus, runtime, "acme", A)).values()) == {0}
