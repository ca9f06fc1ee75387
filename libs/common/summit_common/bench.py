"""`summit bench`: chassis throughput and latency, as ratios against raw nats-py measured
in the same run on the same NATS and Postgres (NATS_URL/DATABASE_URL or embedded).

  (a) raw nats-py pull consumption, batches of 100, no database
  (b) a chassis handler that does nothing (inbox + one transaction per batch)
  (c) a chassis handler that writes one row and emits one event (inbox + outbox)
  (d) end-to-end latency: publish -> service A (row + outbox) -> relay -> service B
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from pathlib import Path

import nats
from nats.js import api

from summit_common.bus import Naming, ensure_stream
from summit_common.consumer import Incoming
from summit_common.embedded import nats_and_postgres
from summit_common.runtime import ServiceRuntime
from summit_common.service import Service
from summit_common.settings import Settings
from summit_common.uow import UnitOfWork
from summit_contracts import REGISTRY, new_event
from summit_contracts.registry import EventData, event_type

if "bench.item.recorded.v1" not in REGISTRY:

    @event_type("bench.item.recorded.v1", owner="bench")
    class BenchRecorded(EventData):
        """Benchmark input."""

        item_id: str
        value: int
        sent_ns: int = 0

    @event_type("bench.item.stored.v1", owner="bench")
    class BenchStored(EventData):
        """Benchmark output."""

        item_id: str
        sent_ns: int = 0


MIGRATIONS = Path(__file__).parent / "bench_migrations"


async def _noop(event: Incoming, uow: UnitOfWork) -> None:
    return None


async def _store_and_emit(event: Incoming, uow: UnitOfWork) -> None:
    data = event.data
    uow.defer("INSERT INTO bench_items (item_id, tenant_id, value) VALUES ($1, $2, $3)", data.item_id, event.tenant, data.value)
    uow.emit("bench.item.stored.v1", {"item_id": data.item_id, "sent_ns": data.sent_ns})


async def _record_latency(event: Incoming, uow: UnitOfWork) -> None:
    latency_ms = (time.time_ns() - event.data.sent_ns) / 1e6
    uow.defer("INSERT INTO bench_latency (item_id, latency_ms) VALUES ($1, $2)", event.data.item_id, latency_ms)


def _service(name: str, handler, emits=()) -> Service:
    return Service(name=name, description="benchmark", handlers={handler[0]: handler[1]}, migrations=MIGRATIONS, emits=emits)


async def _publish_backlog(js, subject: str, count: int, *, sent_ns: bool = False) -> None:
    pending = []
    for i in range(count):
        event = new_event("bench.item.recorded.v1", {"item_id": f"i{i}", "value": i, "sent_ns": time.time_ns() if sent_ns else 0},
                          source="bench", tenantid="bench")
        pending.append(await js.publish_async(subject, event.to_json(), headers={"Nats-Msg-Id": event.msg_id}))
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


async def raw_pull_rate(js, naming: Naming, count: int) -> float:
    subject = naming.subject("bench.item.recorded.v1")
    sub = await js.pull_subscribe(subject, durable="raw", stream=naming.stream("bench"),
                                  config=api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT, max_ack_pending=20_000))
    got = 0
    started = time.perf_counter()
    while got < count:
        for msg in await sub.fetch(100, timeout=5):
            await msg.ack()
            got += 1
    return count / (time.perf_counter() - started)


async def chassis_rate(settings: Settings, service: Service, count: int) -> tuple[float, float]:
    """Events/s handled, and events/s until the outbox was fully relayed."""
    runtime = ServiceRuntime(service, settings)
    started = time.perf_counter()
    await runtime.start()
    handled_at = None
    metric = "summit_events_handled_total"
    while True:
        done = runtime.metrics.registry.get_sample_value(metric, {"type": "bench.item.recorded.v1"}) or 0
        if done >= count and handled_at is None:
            handled_at = time.perf_counter()
        if handled_at is not None:
            async with runtime.pool.acquire() as conn:
                if await conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"):
                    break
        await asyncio.sleep(0.01)
    relayed_at = time.perf_counter()
    await runtime.stop()
    return count / (handled_at - started), count / (relayed_at - started)


async def latency(settings: Settings, count: int, rate: float) -> list[float]:
    producer = ServiceRuntime(_service("bench-producer", ("bench.item.recorded.v1", _store_and_emit), ("bench.item.stored.v1",)), settings)
    consumer = ServiceRuntime(_service("bench-consumer", ("bench.item.stored.v1", _record_latency)), settings)
    await producer.start()
    await consumer.start()
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    subject = producer.naming.subject("bench.item.recorded.v1")
    interval = 1.0 / rate
    next_at = time.perf_counter()
    for i in range(count):
        event = new_event("bench.item.recorded.v1", {"item_id": f"l{i}", "value": i, "sent_ns": time.time_ns()},
                          source="bench", tenantid="bench")
        await js.publish(subject, event.to_json(), headers={"Nats-Msg-Id": event.msg_id})
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    while True:
        async with consumer.pool.acquire() as conn:
            if await conn.fetchval("SELECT count(*) FROM bench_latency") >= count:
                rows = await conn.fetch("SELECT latency_ms FROM bench_latency")
                break
        await asyncio.sleep(0.05)
    await nc.close()
    await producer.stop()
    await consumer.stop()
    return sorted(r["latency_ms"] for r in rows)


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


async def main(*, events: int = 20_000, latency_events: int = 2_000, latency_rate: float = 500.0) -> dict:
    results: dict = {}
    with nats_and_postgres() as servers:
        nats_url, database_url = servers.nats_url, servers.database_url

        def fresh_settings() -> Settings:
            tag = uuid.uuid4().hex[:6]
            return Settings(NATS_URL=nats_url, DATABASE_URL=database_url, subject_prefix=f"b{tag}.", schema_suffix=f"_b{tag}",
                            jwt_secret="bench", log_level="WARNING", fetch_timeout_seconds=0.05, outbox_poll_seconds=0.5)

        print(f"summit bench: {events} events per throughput case, {latency_events} for latency at {latency_rate:.0f}/s")
        rates = {}
        for case, handler in (("a", None), ("b", _noop), ("c", _store_and_emit)):
            settings = fresh_settings()
            naming = Naming(settings.subject_prefix)
            nc = await nats.connect(nats_url)
            js = nc.jetstream()
            await ensure_stream(js, naming, "bench", duplicate_window=settings.dedupe_window_seconds)
            await _publish_backlog(js, naming.subject("bench.item.recorded.v1"), events)
            if handler is None:
                rates["a"] = await raw_pull_rate(js, naming, events)
            else:
                emits = ("bench.item.stored.v1",) if handler is _store_and_emit else ()
                rates[case], relayed = await chassis_rate(settings, _service(f"bench-{case}", ("bench.item.recorded.v1", handler), emits), events)
                if case == "c":
                    rates["c_relayed"] = relayed
            await nc.close()
            print(f"  ({case}) {rates[case]:>9.0f} events/s")
        print(f"      (c incl. outbox relayed to JetStream: {rates['c_relayed']:.0f} events/s)")
        lat = await latency(fresh_settings(), latency_events, latency_rate)
        results = {
            "raw_pull_events_per_s": round(rates["a"]),
            "chassis_noop_events_per_s": round(rates["b"]),
            "chassis_write_emit_events_per_s": round(rates["c"]),
            "chassis_write_emit_relayed_events_per_s": round(rates["c_relayed"]),
            "ratio_b_over_a": round(rates["b"] / rates["a"], 3),
            "ratio_c_over_a": round(rates["c"] / rates["a"], 3),
            "latency_p50_ms": round(_pct(lat, 0.50), 2),
            "latency_p99_ms": round(_pct(lat, 0.99), 2),
            "latency_mean_ms": round(statistics.fmean(lat), 2),
        }
        print(f"  ratio b/a = {results['ratio_b_over_a']:.3f}   ratio c/a = {results['ratio_c_over_a']:.3f}   (target c/a >= 0.4)")
        print(f"  (d) end-to-end latency p50 = {results['latency_p50_ms']} ms, p99 = {results['latency_p99_ms']} ms (target p99 < 50 ms)")
    return results
