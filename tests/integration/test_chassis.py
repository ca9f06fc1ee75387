"""The chassis contract over real NATS JetStream and Postgres: inbox, outbox, DLQ, replicas."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import nats
import pytest

from summit_common import Service, dlq
from summit_common.runtime import ServiceRuntime
from summit_contracts import new_event
from tests.helpers import eventually, read_subject
from tests.integration.probe_service import make_service

pytestmark = pytest.mark.integration


def item_event(item_id: str, value: int = 1, fail: str = "no", tenant: str = "acme"):
    return new_event("probe.item.recorded.v1", {"item_id": item_id, "value": value, "fail": fail}, source="test", tenantid=tenant)


async def publish(js, runtime: ServiceRuntime, event, *, msg_id: str | None = None, raw: bytes | None = None, event_type: str | None = None):
    subject = runtime.naming.subject(event_type or event.type)
    headers = {"Nats-Msg-Id": msg_id or event.msg_id}
    await js.publish(subject, raw if raw is not None else event.to_json(), headers=headers)


async def count_items(runtime: ServiceRuntime, item_id: str | None = None) -> int:
    async with runtime.pool.acquire() as conn:
        if item_id is None:
            return await conn.fetchval("SELECT count(*) FROM items")
        return await conn.fetchval("SELECT count(*) FROM items WHERE item_id = $1", item_id)


@pytest.fixture
async def bus(settings):
    nc = await nats.connect(settings.nats_url)
    yield nc.jetstream()
    await nc.close()


@pytest.fixture
async def probe(settings):
    runtime = ServiceRuntime(make_service(), settings)
    await runtime.start()
    yield runtime
    await runtime.stop()


async def test_event_is_handled_and_emits_through_the_outbox(probe, bus):
    event = item_event("a1", 7)
    await publish(bus, probe, event)
    await eventually(lambda: _gt(count_items(probe, "a1"), 0))
    out = await read_subject(bus, probe.naming.stream("probe"), probe.naming.subject("probe.item.stored.v1"), at_least=1)
    assert len(out) == 1
    emitted = json.loads(out[0].data)
    assert emitted["data"] == {"item_id": "a1", "value": 7}
    assert emitted["causationid"] == event.id
    assert emitted["correlationid"] == event.correlationid
    assert emitted["tenantid"] == "acme"
    assert out[0].headers["Nats-Msg-Id"]


async def test_redelivered_event_has_one_effect(probe, bus):
    event = item_event("dup", 1)
    # Different Nats-Msg-Ids get past JetStream's dedupe: the inbox must catch it.
    for n in range(3):
        await publish(bus, probe, event, msg_id=f"{event.msg_id}-{n}")
    await publish(bus, probe, item_event("after-dup"))
    await eventually(lambda: _gt(count_items(probe, "after-dup"), 0))
    assert await count_items(probe, "dup") == 1
    out = await read_subject(bus, probe.naming.stream("probe"), probe.naming.subject("probe.item.stored.v1"), at_least=2)
    assert sorted(json.loads(m.data)["data"]["item_id"] for m in out) == ["after-dup", "dup"]


async def test_same_source_and_id_is_deduplicated_by_jetstream(probe, bus):
    event = item_event("js-dedupe")
    ack1 = await bus.publish(probe.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": event.msg_id})
    ack2 = await bus.publish(probe.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": event.msg_id})
    assert ack2.duplicate is True and ack1.seq == ack2.seq


async def test_same_id_from_two_sources_are_two_events(probe, bus):
    a = new_event("probe.item.recorded.v1", {"item_id": "src-a", "value": 1}, source="system-a", tenantid="acme")
    b = a.model_copy(update={"source": "system-b", "data": {"item_id": "src-b", "value": 2}})
    assert a.id == b.id and a.msg_id != b.msg_id
    await publish(bus, probe, a)
    await publish(bus, probe, b)
    await eventually(lambda: _gt(count_items(probe, "src-b"), 0))
    assert await count_items(probe, "src-a") == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid_envelope"),
        (b"[1, 2]", "invalid_envelope"),
        (json.dumps({"specversion": "1.0", "id": "x", "source": "s", "type": "probe.item.recorded.v1", "tenantid": "acme",
                     "data": {"item_id": "bad", "value": "not-a-number"}}).encode(), "invalid_data"),
        (json.dumps({"specversion": "1.0", "id": "x2", "source": "s", "type": "probe.item.recorded.v1",
                     "data": {"item_id": "no-tenant", "value": 1}}).encode(), "missing_tenant"),
        (json.dumps({"specversion": "0.3", "id": "x3", "source": "s", "type": "probe.item.recorded.v1", "tenantid": "acme",
                     "data": {"item_id": "old-spec", "value": 1}}).encode(), "invalid_envelope"),
        (json.dumps({"specversion": "1.0", "id": "x4", "source": "s", "type": "probe.item.recorded.v9", "tenantid": "acme",
                     "data": {"item_id": "v9", "value": 1}}).encode(), "type_subject_mismatch"),
    ],
)
async def test_invalid_payload_goes_straight_to_the_dlq(probe, bus, raw, reason):
    await bus.publish(probe.naming.subject("probe.item.recorded.v1"), raw)
    entries = await eventually(lambda: dlq.list_entries(bus, probe.naming, "probe"))
    assert entries[0].reason == reason
    assert entries[0].delivery_count == 1  # never retried
    assert entries[0].original == raw
    assert await count_items(probe) == 0


async def test_poison_event_is_retried_then_dead_lettered_and_can_be_replayed(probe, bus):
    from tests.integration import probe_service

    event = item_event("poison", fail="always")
    await publish(bus, probe, event)
    entries = await eventually(lambda: dlq.list_entries(bus, probe.naming, "probe"))
    assert entries[0].reason == "handler_failed"
    assert "always fails" in entries[0].error
    assert entries[0].delivery_count == probe.settings.max_deliver
    assert await count_items(probe, "poison") == 0

    # "Fix" the cause, then replay; an unrelated empty message is dead-lettered meanwhile.
    probe_service.FIXED.add("poison")
    await bus.publish(probe.naming.subject(event.type), b"")
    await dlq.replay(bus, probe.naming, entries[0].seq)
    await eventually(lambda: _gt(count_items(probe, "poison"), 0))
    remaining = await dlq.list_entries(bus, probe.naming, "probe")
    assert all(e.seq != entries[0].seq for e in remaining)


async def test_permanent_error_is_not_retried(probe, bus):
    await publish(bus, probe, item_event("perm", fail="permanent"))
    entries = await eventually(lambda: dlq.list_entries(bus, probe.naming, "probe"))
    assert entries[0].reason == "rejected_by_handler"
    assert entries[0].delivery_count == 1


async def test_infrastructure_failures_outlast_max_deliver_then_stop_at_the_crash_loop_cap(probe, bus):
    from summit_common.consumer import CRASH_LOOP_FACTOR

    await publish(bus, probe, item_event("infra", fail="infra"))
    entries = await eventually(lambda: dlq.list_entries(bus, probe.naming, "probe"), timeout=30)
    assert entries[0].reason == "max_deliveries"
    assert entries[0].delivery_count == probe.settings.max_deliver * CRASH_LOOP_FACTOR + 1


async def test_transient_failure_is_retried_and_succeeds(probe, bus):
    await publish(bus, probe, item_event("flaky", fail="once"))
    await eventually(lambda: _gt(count_items(probe, "flaky"), 0))
    assert await dlq.list_entries(bus, probe.naming, "probe") == []


async def test_one_poison_event_does_not_block_its_batch(probe, bus):
    events = [item_event(f"b{i}") for i in range(20)]
    events.insert(7, item_event("bad-in-batch", fail="permanent"))
    for event in events:
        await publish(bus, probe, event)
    await eventually(lambda: _gt(count_items(probe), 19))
    assert await count_items(probe) == 20
    entries = await eventually(lambda: dlq.list_entries(bus, probe.naming, "probe"))
    assert [e.reason for e in entries] == ["rejected_by_handler"]


async def test_crash_between_commit_and_publish_relays_exactly_once(settings, bus):
    # First life: consume and commit, but the process "dies" before the relay publishes.
    first = ServiceRuntime(make_service(), settings)
    await first.start(relay=False)
    await publish(bus, first, item_event("crash", 3))
    await eventually(lambda: _gt(count_items(first, "crash"), 0))
    async with first.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1
    await first.stop()
    stored = first.naming.subject("probe.item.stored.v1")
    assert await read_subject(bus, first.naming.stream("probe"), stored, timeout=1) == []

    # Second life: a relay that publishes but dies before marking the rows sent.
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": first.schema})
    for row in await conn.fetch("SELECT msg_id, subject, payload FROM outbox WHERE sent_at IS NULL"):
        await bus.publish(row["subject"], bytes(row["payload"]), headers={"Nats-Msg-Id": row["msg_id"]})
    await conn.close()

    # Third life: restart; the relay sends the row again and JetStream drops the duplicate.
    second = ServiceRuntime(make_service(), settings)
    await second.start()
    async with second.pool.acquire() as c:
        await eventually(lambda: c.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))
    await second.stop()
    out = await read_subject(bus, first.naming.stream("probe"), stored, at_least=1)
    assert len(out) == 1


async def test_two_replicas_split_the_work_without_loss_or_duplicates(settings, bus):
    replicas = [ServiceRuntime(make_service(), settings) for _ in range(2)]
    for r in replicas:
        await r.start()
    try:
        total = 400
        for i in range(total):
            await publish(bus, replicas[0], item_event(f"r{i}", i))
        await eventually(lambda: _gt(count_items(replicas[0]), total - 1), timeout=30)
        async with replicas[0].pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(DISTINCT item_id) FROM items") == total
            assert await conn.fetchval("SELECT count(*) FROM items") == total
        per_replica = [r.metrics.registry.get_sample_value("summit_events_handled_total", {"type": "probe.item.recorded.v1"}) or 0
                       for r in replicas]
        assert sum(per_replica) == total
        assert all(n > 0 for n in per_replica), per_replica
    finally:
        for r in replicas:
            await r.stop()


async def test_graceful_stop_flushes_the_outbox(settings, bus):
    runtime = ServiceRuntime(make_service(), settings)
    await runtime.start()
    for i in range(50):
        await publish(bus, runtime, item_event(f"g{i}"))
    await eventually(lambda: _gt(count_items(runtime), 49))
    await runtime.stop()
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": runtime.schema})
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
    await conn.close()


async def _gt(awaitable, n: int) -> bool:
    return (await awaitable) > n


async def test_migrations_apply_once_under_concurrency(settings):
    runtimes = [ServiceRuntime(make_service(), settings) for _ in range(3)]
    await asyncio.gather(*(r.start(consume=False, relay=False) for r in runtimes))
    async with runtimes[0].pool.acquire() as conn:
        versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    assert [v["version"] for v in versions] == ["chassis:0000", "chassis:0001", "probe:0001"]
    for r in runtimes:
        await r.stop()


async def test_domain_streams_forget_events_after_their_max_age(settings, bus):
    runtime = ServiceRuntime(make_service(), settings.model_copy(update={"stream_max_age_days": 7}))
    await runtime.start(consume=False, relay=False)
    info = await bus.stream_info(runtime.naming.stream("probe"))
    assert info.config.max_age == 7 * 86400
    await runtime.stop()


async def test_production_refuses_to_start_on_public_dev_secrets(settings, monkeypatch):
    service = Service(name="secretive", description="declares a secret", production_secrets=("SECRETIVE_KEY",))
    monkeypatch.delenv("SECRETIVE_KEY", raising=False)
    production = settings.model_copy(update={"env": "production"})
    with pytest.raises(RuntimeError, match="set SECRETIVE_KEY"):
        await ServiceRuntime(service, production).start()
    dev = ServiceRuntime(service, settings)
    await dev.start(consume=False, relay=False)  # dev: the default is fine
    await dev.stop()
    monkeypatch.setenv("SECRETIVE_KEY", "from-a-secret")
    runtime = ServiceRuntime(service, production)
    await runtime.start(consume=False, relay=False)
    await runtime.stop()
