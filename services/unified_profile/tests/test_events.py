"""Events in, profile and events out, over real NATS JetStream and Postgres."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest

from services.unified_profile import domain
from services.unified_profile.service import service
from services.unified_profile.tests.factories import event_data, model, ref
from services.unified_profile.tests.support import (
    OTHER_TENANT,
    auth,
    lookup,
    milestones_of,
    publish,
    publish_fact,
    updates_of,
    wait_for_profile,
)
from summit_common import dlq
from summit_common.runtime import ServiceRuntime
from summit_contracts import new_event
from tests.helpers import eventually, read_subject

pytestmark = pytest.mark.integration

K1 = ref("kintell", "K-1042")


async def test_events_build_the_profile_and_emit_updates_and_first_milestones(runtime, bus, client, settings):
    scheduled = await publish_fact(bus, runtime, "kintell.session.scheduled.v1", K1, "S-1", minute=0)
    completed = await publish_fact(bus, runtime, "kintell.session.completed.v1", K1, "S-1", minute=30)
    course = await publish_fact(bus, runtime, "upskilling.course.completed.v1", K1, "CC-1", minute=90)

    profile = await wait_for_profile(client, settings, "kintell", "K-1042", lambda p: p["version"] == 3)
    flags = {name for name, on in profile["flags"].items() if on}
    assert flags == {"has_scheduled_language", "has_completed_language", "has_started_course",
                     "has_completed_course", "has_completed_language_course"}
    assert profile["counters"]["language_sessions_completed"] == 1
    assert profile["counters"]["courses_completed"] == 1
    assert profile["last_activity_at"].startswith("2025-03-01T10:30:00")  # course at minute 90, the latest
    assert profile["identities"] == [{"system": "kintell", "external_id": "K-1042", "linked_at": profile["identities"][0]["linked_at"]}]
    assert {m["milestone"] for m in profile["milestones"]} == flags

    updates = await updates_of(bus, runtime, profile["profile_id"], at_least=3)
    assert sorted(u["data"]["version"] for u in updates) == [1, 2, 3]
    first = next(u for u in updates if u["data"]["version"] == 1)
    assert "identities" in first["data"]["changed"]
    assert first["data"]["identities"] == [{"system": "kintell", "id": "K-1042"}]
    last = next(u for u in updates if u["data"]["version"] == 3)
    assert {n for n, on in last["data"]["flags"].items() if on} == flags
    assert all(u["tenantid"] == "acme" and u["subject"] == profile["profile_id"] for u in updates)
    assert {u["causationid"] for u in updates} == {scheduled.id, completed.id, course.id}

    milestones = await milestones_of(bus, runtime, profile["profile_id"], at_least=5)
    assert Counter(m["data"]["milestone"] for m in milestones) == Counter(flags)
    by_name = {m["data"]["milestone"]: m for m in milestones}
    assert by_name["has_completed_language"]["data"]["trigger_type"] == "kintell.session.completed.v1"
    assert by_name["has_completed_language"]["causationid"] == completed.id


async def test_a_redelivered_event_has_one_effect(runtime, bus, client, settings):
    event = new_event("kintell.session.completed.v1", event_data("kintell.session.completed.v1", K1, "S-1"),
                      source="test", tenantid="acme")
    # Different Nats-Msg-Ids get past JetStream's dedupe window: the inbox must catch them.
    for n in range(3):
        await publish(bus, runtime, event, msg_id=f"{event.msg_id}-{n}")
    await publish_fact(bus, runtime, "kintell.session.completed.v1", K1, "S-2", minute=5)  # same consumer, after them

    profile = await wait_for_profile(client, settings, "kintell", "K-1042",
                                     lambda p: p["counters"]["language_sessions_completed"] >= 2)
    assert profile["counters"]["language_sessions_completed"] == 2
    assert profile["version"] == 2
    assert len(await updates_of(bus, runtime, profile["profile_id"], at_least=2)) == 2


async def test_the_same_business_fact_under_a_new_event_id_changes_nothing(runtime, bus, client, settings):
    # e.g. a webhook retry and a CSV import of the same session: two events, one fact.
    await publish_fact(bus, runtime, "buddy.event.logged.v1", K1, "E-1")
    await publish_fact(bus, runtime, "buddy.event.logged.v1", K1, "E-1")
    await publish_fact(bus, runtime, "buddy.event.logged.v1", K1, "E-2", minute=1)

    profile = await wait_for_profile(client, settings, "kintell", "K-1042", lambda p: p["counters"]["buddy_events"] >= 2)
    assert profile["counters"]["buddy_events"] == 2
    assert profile["version"] == 2
    updates = await updates_of(bus, runtime, profile["profile_id"], at_least=2)
    assert sorted(u["data"]["version"] for u in updates) == [1, 2]  # nothing emitted for the duplicate


async def test_invalid_event_data_goes_to_the_dlq_and_changes_nothing(runtime, bus, client, settings):
    await publish_fact(bus, runtime, "kintell.session.completed.v1", K1, "S-1")
    before = await wait_for_profile(client, settings, "kintell", "K-1042", lambda p: p["version"] == 1)

    bad = event_data("kintell.session.completed.v1", K1, "S-2", duration_minutes=-5)
    await publish(bus, runtime, new_event("kintell.session.completed.v1", bad, source="test", tenantid="acme"))
    unknown_person = event_data("buddy.match.created.v1", ref("buddy", "B-404"), "M-1", matched_at="not a time")
    await publish(bus, runtime, new_event("buddy.match.created.v1", unknown_person, source="test", tenantid="acme"))

    entries = await eventually(lambda: _at_least(dlq.list_entries(bus, runtime.naming, service.name), 2))
    assert sorted(e.reason for e in entries) == ["invalid_data", "invalid_data"]
    assert any("duration_minutes" in e.error for e in entries)
    assert all(e.delivery_count == 1 for e in entries)  # never retried

    after = (await client.get(f"/v1/profiles/{before['profile_id']}", headers=auth(settings))).json()
    assert after["version"] == before["version"] and after["counters"] == before["counters"]
    assert await lookup(client, settings, "buddy", "B-404") is None  # no profile for the poison event's participant


async def test_a_volunteer_rating_touches_no_profile_and_a_participant_rating_does(runtime, bus, client, settings):
    await publish_fact(bus, runtime, "kintell.rating.created.v1", ref("kintell", "V-7"), "R-1", rater_role="volunteer")
    await publish_fact(bus, runtime, "kintell.rating.created.v1", K1, "R-2", rater_role="participant")
    profile = await wait_for_profile(client, settings, "kintell", "K-1042", lambda p: p["flags"]["has_rated_session"])
    assert profile["version"] == 1
    assert await lookup(client, settings, "kintell", "V-7") is None
    async with runtime.pool.acquire() as conn:
        # Both ratings went through the inbox: the volunteer's was handled (as a no-op), not lost.
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_type = 'kintell.rating.created.v1'") == 2
        assert await conn.fetchval("SELECT count(*) FROM profiles") == 1


async def test_the_same_identity_in_two_tenants_is_two_profiles(runtime, bus, client, settings):
    await publish_fact(bus, runtime, "buddy.match.created.v1", K1, "M-1")
    await publish_fact(bus, runtime, "buddy.match.created.v1", K1, "M-1", tenant=OTHER_TENANT)
    ours = await wait_for_profile(client, settings, "kintell", "K-1042", lambda p: p["flags"]["is_buddy_matched"])
    theirs = await wait_for_profile(client, settings, "kintell", "K-1042", lambda p: p["flags"]["is_buddy_matched"],
                                    tenant=OTHER_TENANT)
    assert ours["profile_id"] != theirs["profile_id"]
    assert (ours["tenant"], theirs["tenant"]) == ("acme", OTHER_TENANT)
    updates = await updates_of(bus, runtime, theirs["profile_id"], at_least=1)
    assert [u["tenantid"] for u in updates] == [OTHER_TENANT]


COUNTED_TYPES = [
    ("kintell.session.completed.v1", {"session_type": "language"}),
    ("kintell.session.completed.v1", {"session_type": "mentorship"}),
    ("buddy.event.logged.v1", {}),
    ("buddy.checkin.completed.v1", {}),
    ("upskilling.course.completed.v1", {"category": "digital"}),
    ("upskilling.credential.issued.v1", {}),
]


async def test_two_replicas_on_overlapping_participants_lose_no_increment(settings, bus):
    replicas = [ServiceRuntime(service, settings) for _ in range(2)]
    for r in replicas:
        await r.start()
    try:
        people = [ref("kintell", f"K-{n}") for n in range(6)]
        expected: dict[str, domain.ProfileState] = defaultdict(domain.ProfileState)
        per_person = Counter()
        total = 200
        for n in range(total):
            person = people[n % len(people)]
            event_type, overrides = COUNTED_TYPES[(n // len(people)) % len(COUNTED_TYPES)]
            await publish_fact(bus, replicas[n % 2], event_type, person, f"F-{n}", minute=n, **overrides)
            expected[person["id"]] = domain.apply_event(expected[person["id"]], event_type,
                                                        model(event_type, person, f"F-{n}", n, **overrides))
            per_person[person["id"]] += 1

        async def all_counted():
            async with replicas[0].pool.acquire() as conn:
                rows = await conn.fetch("SELECT counters FROM profiles")
            return sum(sum(json.loads(r["counters"]).values()) for r in rows) >= total

        await eventually(all_counted, timeout=60)
        async with replicas[0].pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT i.external_id, p.profile_id, p.version, p.counters, p.flags FROM profiles p"
                " JOIN identities i USING (profile_id)"
            )
        assert len(rows) == len(people)  # one profile per participant, though both replicas created concurrently
        for row in rows:
            want = expected[row["external_id"]]
            assert json.loads(row["counters"]) == dict(want.counters), row["external_id"]
            assert json.loads(row["flags"]) == dict(want.flags), row["external_id"]
            assert row["version"] == per_person[row["external_id"]]  # every event was one change

        handled = [r.metrics.registry.get_sample_value("summit_events_handled_total", {"type": t}) or 0
                   for r in replicas for t in {t for t, _ in COUNTED_TYPES}]
        assert sum(handled) == total

        for r in replicas:
            async with r.pool.acquire() as conn:
                await eventually(lambda c=conn: c.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))
        msgs = await read_subject(bus, replicas[0].naming.stream("orchestration"),
                                  replicas[0].naming.subject("orchestration.profile.updated.v1"), at_least=total)
        versions = defaultdict(list)
        for m in msgs:
            data = json.loads(m.data)["data"]
            versions[data["profile_id"]].append(data["version"])
        by_profile = {str(r["profile_id"]): r["external_id"] for r in rows}
        for profile_id, seen in versions.items():
            assert sorted(seen) == list(range(1, per_person[by_profile[profile_id]] + 1))
    finally:
        for r in replicas:
            await r.stop()


async def _at_least(awaitable, n: int):
    found = await awaitable
    return found if len(found) >= n else None
