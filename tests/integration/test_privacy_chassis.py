"""The chassis answers DSAR export and erasure for a service that declares personal data,
and keeps its worker loops alive."""

import asyncio
import json
from datetime import UTC, datetime

from summit_common import Service
from summit_common.privacy import PersonalData, new_keypair, open_sealed, subject_refs
from summit_contracts import new_event
from summit_contracts.events.privacy import ExportAnswered
from tests.helpers import eventually, read_subject

SUBJECT = {"refs": [{"system": "kintell", "id": "K-1"}, {"system": "buddy", "id": "B-1"}]}
MATCH = "(system, ext_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))"


async def export_people(conn, tenant, subject):
    rows = await conn.fetch(f"SELECT system, ext_id, note FROM people WHERE tenant_id = $1 AND {MATCH} ORDER BY note",
                            tenant, *subject_refs(subject))
    return {"people": [dict(r) for r in rows]}


async def erase_people(conn, tenant, subject):
    if any(r.id == "EXPLODE" for r in subject.refs):
        await conn.execute("DELETE FROM people WHERE tenant_id = $1", tenant)  # undone by the savepoint
        raise ValueError("note of EXPLODE@example.com is locked")
    status = await conn.execute(f"DELETE FROM people WHERE tenant_id = $1 AND {MATCH}", tenant, *subject_refs(subject))
    return {"people": int(status.split()[-1])}


def holder(tmp_path) -> Service:
    (tmp_path / "0001_people.sql").write_text(
        "CREATE TABLE people (tenant_id text, system text, ext_id text, note text);"
    )
    return Service(
        name="privacy-probe", description="holds people", migrations=tmp_path,
        personal_data=PersonalData(categories={"people": "notes about people"}, export=export_people, erase=erase_people),
    )


async def seed(runtime):
    async with runtime.pool.acquire() as conn:
        await conn.executemany("INSERT INTO people VALUES ($1, $2, $3, $4)", [
            ("acme", "kintell", "K-1", "k note"), ("acme", "buddy", "B-1", "b note"),
            ("acme", "kintell", "K-2", "someone else"), ("globex", "kintell", "K-1", "other tenant"),
        ])


async def publish(bus, runtime, type_, data, tenant="acme"):
    event = new_event(type_, data, source="privacy-orchestrator", tenantid=tenant)
    await bus.publish(runtime.naming.subject(type_), event.to_json(), headers={"Nats-Msg-Id": event.msg_id})


async def answers(bus, runtime, type_, at_least=1):
    msgs = await read_subject(bus, runtime.naming.stream("privacy"), runtime.naming.subject(type_), at_least=at_least)
    return [json.loads(m.data)["data"] for m in msgs]


def test_declaring_personal_data_adds_the_privacy_handlers(tmp_path):
    service = holder(tmp_path)
    assert {"privacy.export.requested.v1", "privacy.deletion.requested.v1"} <= set(service.handlers)
    assert {"privacy.export.answered.v1", "privacy.deletion.confirmed.v1"} <= set(service.emits)


async def test_export_is_sealed_to_the_job_key_and_scoped_to_subject_and_tenant(tmp_path, start_service, bus):
    runtime = await start_service(holder(tmp_path))
    await seed(runtime)
    private, public = new_keypair()
    await publish(bus, runtime, "privacy.export.requested.v1", {
        "job_id": "job-1", "subject": SUBJECT, "reply_public_key": public, "requested_at": datetime.now(UTC)})
    [answer] = await answers(bus, runtime, "privacy.export.answered.v1")
    assert answer["status"] == "ok" and answer["record_counts"] == {"people": 2}
    assert "k note" not in json.dumps(answer)  # nothing in clear on the bus
    opened = json.loads(open_sealed(private, ExportAnswered.model_validate(answer).sealed))
    assert opened["service"] == "privacy-probe"
    assert [p["note"] for p in opened["records"]["people"]] == ["b note", "k note"]


async def test_erasure_removes_only_the_subject_and_a_failure_is_answered_without_pii(tmp_path, start_service, bus):
    runtime = await start_service(holder(tmp_path))
    await seed(runtime)
    await publish(bus, runtime, "privacy.deletion.requested.v1", {
        "request_id": "del-other", "subject": SUBJECT, "services": ["some-other-service"], "requested_at": datetime.now(UTC)})
    await publish(bus, runtime, "privacy.deletion.requested.v1", {
        "request_id": "del-1", "subject": SUBJECT, "services": ["privacy-probe"], "requested_at": datetime.now(UTC)})
    [confirmed] = await answers(bus, runtime, "privacy.deletion.confirmed.v1")
    assert confirmed["request_id"] == "del-1"  # the request addressed to another service got no answer
    assert confirmed["status"] == "ok" and confirmed["deleted_counts"] == {"people": 2}
    async with runtime.pool.acquire() as conn:
        left = await conn.fetch("SELECT tenant_id, ext_id FROM people ORDER BY tenant_id")
    assert [(r["tenant_id"], r["ext_id"]) for r in left] == [("acme", "K-2"), ("globex", "K-1")]

    await publish(bus, runtime, "privacy.deletion.requested.v1", {
        "request_id": "del-2", "subject": {"refs": [{"system": "kintell", "id": "EXPLODE"}]}, "requested_at": datetime.now(UTC)})
    got = await answers(bus, runtime, "privacy.deletion.confirmed.v1", at_least=2)
    failed = next(a for a in got if a["request_id"] == "del-2")
    assert failed["status"] == "failed" and failed["error"].startswith("ValueError")
    assert "example.com" not in failed["error"]
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM people WHERE tenant_id = 'acme'") == 1  # savepoint undid it


async def test_workers_run_and_restart_after_an_error(settings, start_service):
    ticks: list[str] = []

    async def flaky(runtime):
        ticks.append("start")
        if len(ticks) == 1:
            raise RuntimeError("first run fails")
        await asyncio.Event().wait()  # runs until cancelled

    service = Service(name="worker-probe", description="has a worker", workers=(flaky,))
    runtime = await start_service(service)
    assert await eventually(lambda: asyncio.sleep(0, len(ticks) >= 2))
    [task] = runtime._workers
    await runtime.stop()
    assert task.cancelled()


async def record_rating(event, uow) -> None:
    await uow.conn.execute("INSERT INTO people VALUES ($1, $2, $3, $4)", event.tenant, event.data.rated_by.system,
                           event.data.rated_by.id, event.data.rating_id)


def rating(rating_id: str, person: str, tenant: str = "acme"):
    return new_event("kintell.rating.created.v1", {
        "rating_id": rating_id, "session_id": "S-1", "rated_by": {"system": "kintell", "id": person},
        "rater_role": "participant", "score": 4, "created_at": "2026-01-01T00:00:00Z"}, source="kintell-connector", tenantid=tenant)


async def test_events_created_before_an_erasure_do_not_bring_the_person_back(tmp_path, start_service, bus):
    service = holder(tmp_path)
    service = Service(name=service.name, description=service.description, migrations=service.migrations,
                      handlers={"kintell.rating.created.v1": record_rating}, personal_data=service.personal_data)
    runtime = await start_service(service)
    late = rating("R-late", "K-1")          # minted before the erasure, delivered after it
    elsewhere = rating("R-globex", "K-1", tenant="globex")
    await publish(bus, runtime, "privacy.deletion.requested.v1", {
        "request_id": "del-1", "subject": {"refs": [{"system": "kintell", "id": "K-1"}]}, "requested_at": datetime.now(UTC)})
    [confirmed] = await answers(bus, runtime, "privacy.deletion.confirmed.v1")
    assert confirmed["status"] == "ok"
    for event in (late, elsewhere, rating("R-new", "K-1"), rating("R-other", "K-2")):
        await bus.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": event.msg_id})

    async def all_received():  # the late event too: received (never retried), just not applied
        async with runtime.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM inbox WHERE event_type = 'kintell.rating.created.v1'") == 4
    await eventually(all_received)
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT tenant_id, note FROM people ORDER BY note")
    assert [(r["tenant_id"], r["note"]) for r in rows] == [("globex", "R-globex"), ("acme", "R-new"), ("acme", "R-other")]
