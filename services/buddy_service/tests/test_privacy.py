"""Data-subject requests over real NATS + Postgres: export holds only the subject's rows of
the asking tenant; erasure removes them (a buddy's id is anonymised), redacts import reports,
is idempotent, and leaves other people and tenants intact."""

from __future__ import annotations

import pytest

from services.buddy_service.tests.support import count, import_csv, import_samples
from tests.dsar import erase, export_records, subject

pytestmark = pytest.mark.integration

A = subject(("buddy", "BP-201"), ("kintell", "KP-1"))
WRONG_PARTICIPANT = b"event_id,match_id,category,occurred_at,duration_minutes,participant_id\n" \
                    b"BE-5999,BM-1001,cultural,2024-02-10T16:00:00Z,60,BP-202\n"


async def buddy_ids(runtime, tenant: str) -> dict[str, str]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT match_id, buddy_id FROM buddy_matches WHERE tenant_id = $1", tenant)
    return {r["match_id"]: r["buddy_id"] for r in rows}


async def test_export_and_erasure_of_a_participant_and_a_buddy(client, runtime, bus, settings):
    for tenant in ("acme", "globex"):
        await import_samples(client, settings, tenant=tenant)
    assert (await import_csv(client, settings, "events", WRONG_PARTICIPANT)).json()["rejected"] == 1

    answer, records = await export_records(bus, runtime, "acme", A)
    assert {k: answer["record_counts"][k] for k in ("matches", "events", "checkins", "feedback")} == {
        "matches": 1, "events": 2, "checkins": 2, "feedback": 2}
    assert {f["feedback_id"] for f in records["feedback"]} == {"BF-9001", "BF-9002"}
    assert all(r["participant_id"] == "BP-201" for r in records["checkins"])
    assert any(line["part"] == "error" and "BP-202" in line["reason"] for line in records["import_reports"])

    counts = await erase(bus, runtime, "acme", A)
    assert {k: counts[k] for k in ("matches", "events", "checkins", "feedback", "buddy_refs")} == {
        "matches": 1, "events": 2, "checkins": 2, "feedback": 2, "buddy_refs": 0}
    assert counts["import_reports"] >= 4  # the four sample reports list A's record ids
    assert "BM-1001" not in await buddy_ids(runtime, "acme")
    assert await count(runtime, "buddy_feedback", "acme") == 4 and await count(runtime, "buddy_feedback", "globex") == 6
    assert (await buddy_ids(runtime, "globex"))["BM-1001"] == "BB-301"
    async with runtime.pool.acquire() as conn:
        reports = await conn.fetchval(
            "SELECT string_agg(errors::text || records::text, '') FROM imports WHERE tenant_id = 'acme'")
    assert "BM-1001" not in reports and "BF-9001" not in reports and "BF-9003" in reports
    assert set((await erase(bus, runtime, "acme", A)).values()) == {0}

    buddy = subject(("buddy", "BB-301"))
    _, records = await export_records(bus, runtime, "acme", buddy)
    assert [m["match_id"] for m in records["matches"]] == ["BM-1004"]
    counts = await erase(bus, runtime, "acme", buddy)
    assert (counts["buddy_refs"], counts["matches"]) == (1, 0)  # the participant's match stays, without the buddy
    assert (await buddy_ids(runtime, "acme"))["BM-1004"] == "erased"
    assert await count(runtime, "buddy_checkins", "acme") == 4
