"""Data-subject requests over real NATS + Postgres: texts seeded through the consumed events;
export holds only the author's screenings and flags of the asking tenant; erasure deletes them
(a pending flag leaves the review queue), is idempotent, and leaves other authors and tenants
intact."""

from __future__ import annotations

import pytest

from services.safety_moderation.tests.support import (
    FEEDBACK,
    OTHER_TENANT,
    SELF_HARM,
    TENANT,
    auth,
    publish_text,
    screened,
)
from tests.dsar import erase, export_records, subject

pytestmark = pytest.mark.integration

CHECKIN = "buddy.checkin.completed.v1"
SESSION = "kintell.session.completed.v1"
RATING = "kintell.rating.created.v1"
A = subject(("buddy", "B-A"), ("kintell", "K-A"))
B_BUDDY, A_BUDDY, A_KINTELL = {"system": "buddy", "id": "B-B"}, {"system": "buddy", "id": "B-A"}, {"system": "kintell", "id": "K-A"}
HELD_WITH_EMAIL = SELF_HARM + " Write to me at anna.berg@example.org"


async def seed(bus, runtime) -> None:
    texts = [
        (FEEDBACK, "F-A", HELD_WITH_EMAIL, TENANT, {"participant": A_BUDDY}),
        (CHECKIN, "C-A", "Doing fine, went to the language cafe.", TENANT, {"participant": A_BUDDY}),
        (SESSION, "S-A", "Good session about job interviews.", TENANT, {"participant": A_KINTELL}),
        (RATING, "R-A", "Very patient volunteer.", TENANT, {"rated_by": A_KINTELL}),
        # A is only the volunteer here: the notes are the participant's (B's), not A's.
        (SESSION, "S-B", "We practised small talk.", TENANT,
         {"participant": {"system": "kintell", "id": "K-B"}, "volunteer": A_KINTELL}),
        (FEEDBACK, "F-B", SELF_HARM, TENANT, {"participant": B_BUDDY}),
        (FEEDBACK, "F-A", SELF_HARM, OTHER_TENANT, {"participant": A_BUDDY}),  # A's ref in another tenant
    ]
    for event_type, content_id, text, tenant, refs in texts:
        await publish_text(bus, runtime, content_id, text, event_type=event_type, tenant=tenant, **refs)
    for _, content_id, _, tenant, _ in texts:
        await screened(runtime, content_id, tenant=tenant)


async def pending_flags(client, settings, tenant: str = TENANT) -> set[str]:
    r = await client.get("/v1/reviews?status=pending", headers=auth(settings, tenant=tenant))
    assert r.status_code == 200, r.text
    return {i["content_id"] for i in r.json()["items"]}


async def test_export_and_erasure_of_a_text_author(runtime, bus, client, settings):
    await seed(bus, runtime)

    answer, records = await export_records(bus, runtime, TENANT, A)
    assert sorted(s["content_id"] for s in records["screenings"]) == ["C-A", "F-A", "R-A", "S-A"]
    assert {s["content_id"]: s["verdict"] for s in records["screenings"]}["F-A"] == "held"
    [flag] = records["flags"]
    assert (flag["content_id"], flag["category"], flag["status"], flag["decision"]) == ("F-A", "self_harm", "pending", None)
    assert "[EMAIL]" in flag["masked_text"] and "anna.berg" not in flag["masked_text"]
    assert "kill myself" in flag["masked_text"] and flag["excerpt"]
    assert answer["record_counts"] == {"screenings": 4, "flags": 1}

    assert await pending_flags(client, settings) == {"F-A", "F-B"}
    assert await erase(bus, runtime, TENANT, A) == {"screenings": 4, "flags": 1}

    # A's rows are gone: the gate knows nothing of them, the pending flag left the queue.
    async with runtime.pool.acquire() as conn:
        left = await conn.fetch("SELECT tenant_id, content_id FROM screenings ORDER BY tenant_id, content_id")
        flags = await conn.fetch("SELECT tenant_id, content_id FROM flags ORDER BY tenant_id, content_id")
    assert [tuple(r) for r in left] == [(TENANT, "F-B"), (TENANT, "S-B"), (OTHER_TENANT, "F-A")]
    assert [tuple(r) for r in flags] == [(TENANT, "F-B"), (OTHER_TENANT, "F-A")]
    r = await client.get(f"/v1/screenings/{FEEDBACK}/F-A", headers=auth(settings))
    assert r.status_code == 404
    assert (await client.get(f"/v1/reviews/{flag['flag_id']}", headers=auth(settings))).status_code == 404
    assert await pending_flags(client, settings) == {"F-B"}
    assert await pending_flags(client, settings, OTHER_TENANT) == {"F-A"}

    assert await erase(bus, runtime, TENANT, A) == {"screenings": 0, "flags": 0}
    _, after = await export_records(bus, runtime, TENANT, A)
    assert after == {"screenings": [], "flags": []}


async def test_rows_screened_before_authors_were_recorded_are_not_matched(runtime, bus, settings):
    await publish_text(bus, runtime, "F-OLD", SELF_HARM, participant=A_BUDDY)
    await screened(runtime, "F-OLD")
    async with runtime.pool.acquire() as conn:  # as a row written before migration 0002
        await conn.execute("UPDATE screenings SET author_system = NULL, author_id = NULL")
        await conn.execute("UPDATE flags SET author_system = NULL, author_id = NULL")

    _, records = await export_records(bus, runtime, TENANT, A)
    assert records == {"screenings": [], "flags": []}
    assert await erase(bus, runtime, TENANT, A) == {"screenings": 0, "flags": 0}
    assert len(await screened(runtime, "F-OLD")) == 1
