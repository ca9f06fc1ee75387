"""Data-subject requests over real NATS + Postgres: the subject's profiles are every profile one
of its refs is linked to (a merged profile goes whole, with its other links); export holds only
those of the asking tenant; erasure deletes them, is idempotent, and leaves others intact."""

from __future__ import annotations

from services.unified_profile.tests.factories import ref
from services.unified_profile.tests.support import OTHER_TENANT, auth, lookup, publish_fact, wait_for_profile
from tests.dsar import erase, export_records, subject

COMPLETED = "kintell.session.completed.v1"
A = subject(("kintell", "K-A"), ("buddy", "B-A"))


async def test_export_and_erasure_of_a_participant_with_a_merged_profile(runtime, bus, client, settings):
    r = await client.post("/v1/profiles/mappings", json={"system": "kintell", "external_id": "K-A"}, headers=auth(settings))
    pid = r.json()["profile_id"]
    r = await client.post("/v1/profiles/mappings", json={"profile_id": pid, "system": "email_hash", "external_id": "h-A"},
                          headers=auth(settings))
    assert r.status_code == 201, r.text
    await publish_fact(bus, runtime, COMPLETED, ref("kintell", "K-A"), "S-1")
    await publish_fact(bus, runtime, COMPLETED, ref("kintell", "K-B"), "S-2")
    await publish_fact(bus, runtime, COMPLETED, ref("kintell", "K-A"), "S-1", tenant=OTHER_TENANT)
    await publish_fact(bus, runtime, "buddy.match.created.v1", ref("buddy", "B-A"), "M-1")
    done = lambda p: p["flags"].get("has_completed_language") or p["flags"].get("is_buddy_matched")  # noqa: E731
    for system, external_id in (("kintell", "K-A"), ("kintell", "K-B"), ("buddy", "B-A")):
        await wait_for_profile(client, settings, system, external_id, done)
    await wait_for_profile(client, settings, "kintell", "K-A", done, tenant=OTHER_TENANT)

    answer, records = await export_records(bus, runtime, "acme", A)
    assert (answer["record_counts"]["profiles"], answer["record_counts"]["identities"]) == (2, 3)
    assert {(i["system"], i["external_id"]) for i in records["identities"]} == {
        ("kintell", "K-A"), ("email_hash", "h-A"), ("buddy", "B-A")}
    assert {f["fact_key"] for f in records["applied_facts"]} == {"kintell.session.completed:S-1", "buddy.match.created:M-1"}
    assert {m["milestone"] for m in records["milestones"]} >= {"has_completed_language", "is_buddy_matched"}

    counts = await erase(bus, runtime, "acme", A)
    assert (counts["profiles"], counts["identities"], counts["applied_facts"]) == (2, 3, 2)
    assert counts["milestones"] == len(records["milestones"])
    for system, external_id in (("kintell", "K-A"), ("email_hash", "h-A"), ("buddy", "B-A")):
        assert await lookup(client, settings, system, external_id) is None
    assert await lookup(client, settings, "kintell", "K-B") is not None
    assert await lookup(client, settings, "kintell", "K-A", tenant=OTHER_TENANT) is not None
    assert set((await erase(bus, runtime, "acme", A)).values()) == {0}
