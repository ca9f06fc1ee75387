"""Benchmarks of reporting (ratios against baselines measured in the same run; not tests).

1. Report generation for one company-period with 2,000 evidence snippets (deterministic
   generator, through the HTTP route and Postgres), then PDF and PPTX rendering, each
   against json.dumps of the same evidence + report (the baseline).
2. SSE fan-out: 500 real HTTP clients (uvicorn on a local port, raw asyncio sockets) connected
   to /v1/stream/metrics; updates published to JetStream; p50/p99 latency from publish to
   receipt, next to a NATS core fan-out to 500 subscriptions (the baseline). Server and
   clients share one process and event loop, so the figures are pessimistic.

    .venv/bin/python services/reporting/bench.py          (NATS_URL/DATABASE_URL, else embedded)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import nats
import uvicorn

from services.reporting import domain, store
from services.reporting.config import ReportingSettings
from services.reporting.service import service
from summit_common.auth import mint_token
from summit_common.embedded import nats_and_postgres
from summit_common.runtime import ServiceRuntime
from summit_common.settings import Settings
from summit_contracts import new_event

N_EVIDENCE = 2_000
N_CLIENTS = 500
ROUNDS = 5


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def until(check, timeout: float = 60.0, step: float = 0.002) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(step)
    return False


async def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = await fn()
    return time.perf_counter() - t, out


async def bench_generation(runtime: ServiceRuntime, token: str) -> dict:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    async with runtime.pool.acquire() as conn, conn.transaction():
        for i in range(N_EVIDENCE):
            text = f"Since the sessions I feel more confident at work and with my team, sentence {i}."
            row = {"tenant": "acme", "evidence_id": f"ev-{i:05d}", "participant": f"{i % 400:064x}",
                   "program": ("buddy", "kintell", "upskilling")[i % 3], "snippet": text,
                   "snippet_sha256": hashlib.sha256(text.encode()).hexdigest(), "dimensions": [domain.DIMENSIONS[i % 4]],
                   "source_type": "kintell.session.completed.v1", "source_id": f"S-{i}",
                   "observed_at": start + timedelta(minutes=60 * i % 120_000), "event_id": str(uuid.uuid4())}
            await store.insert_evidence(conn, **row)
            rows.append(row)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url="http://b", timeout=120) as http:
        h = {"Authorization": f"Bearer {token}"}
        body = {"company_id": "acme", "period": "2026-Q1", "template": "annual"}
        gen_s, r = await timed(lambda: http.post("/v1/gen-reports:generate", json=body, headers=h))
        assert r.status_code == 201, r.text
        report = r.json()
        rid = report["report_id"]
        gen_s = min(gen_s, (await timed(lambda: http.post("/v1/gen-reports:generate", json=body, headers=h)))[0])
        pdf_s, pdf = await timed(lambda: http.get(f"/v1/gen-reports/{rid}/export.pdf", headers=h))
        pptx_s, pptx = await timed(lambda: http.get(f"/v1/gen-reports/{rid}/export.pptx", headers=h))
    t = time.perf_counter()
    for _ in range(5):
        json.dumps({"evidence": rows, "report": report}, default=str)
    baseline = (time.perf_counter() - t) / 5
    return {"evidence": N_EVIDENCE, "baseline_json_dumps_ms": baseline * 1e3, "generate_ms": gen_s * 1e3,
            "pdf_ms": pdf_s * 1e3, "pdf_bytes": len(pdf.content), "pptx_ms": pptx_s * 1e3, "pptx_bytes": len(pptx.content),
            "generate_x": gen_s / baseline, "pdf_x": pdf_s / baseline, "pptx_x": pptx_s / baseline}


async def sse_client(port: int, token: str, connected: list, received: dict, index: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    writer.write(f"GET /v1/stream/metrics HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b": connected"):
                connected.append(index)
            elif line.startswith(b"data: "):
                metric = json.loads(line[6:])["metric_id"]
                received.setdefault(metric, []).append(time.perf_counter())
    finally:
        writer.close()


async def bench_fanout(runtime: ServiceRuntime, nats_url: str, token: str) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(runtime.app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", backlog=4096))
    server_task = asyncio.create_task(server.serve())
    await until(lambda: server.started)
    connected: list[int] = []
    received: dict[str, list[float]] = {}
    clients = []
    for i in range(N_CLIENTS):
        clients.append(asyncio.create_task(sse_client(port, token, connected, received, i)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    if not await until(lambda: len(connected) >= N_CLIENTS, timeout=120):
        raise RuntimeError(f"only {len(connected)} of {N_CLIENTS} SSE clients connected")
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    latencies: list[float] = []
    for k in range(ROUNDS):
        event = new_event("impact.metrics.updated.v1", {
            "company_id": "acme", "period": "2026-Q1", "metric_id": f"bench-{k}", "sroi_ratio": 2.0, "social_value": 10.0,
            "investment": 5.0, "vis_score": 50.0, "config_version": "bench", "computed_at": "2026-03-01T00:00:00+00:00"},
            source="bench", tenantid="acme")
        sent = time.perf_counter()
        await js.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": event.msg_id})
        await until(lambda k=k: len(received.get(f"bench-{k}", [])) >= N_CLIENTS)
        latencies += [(t - sent) * 1e3 for t in received.get(f"bench-{k}", [])]
    for task in clients:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    server.should_exit = True
    await asyncio.wait_for(server_task, 15)

    # Baseline: NATS core fan-out of one message to 500 subscriptions on one connection.
    base: list[float] = []
    stamps: list[float] = []

    async def stamp(msg) -> None:
        stamps.append(time.perf_counter())

    subs = [await nc.subscribe("bench.fanout", cb=stamp) for _ in range(N_CLIENTS)]
    await nc.flush()
    for _ in range(ROUNDS):
        stamps.clear()
        sent = time.perf_counter()
        await nc.publish("bench.fanout", b"x")
        await until(lambda: len(stamps) >= N_CLIENTS, step=0.0005)
        base += [(t - sent) * 1e3 for t in stamps]
    for sub in subs:
        await sub.unsubscribe()
    await nc.close()
    return {"clients": N_CLIENTS, "rounds": ROUNDS, "delivered": len(latencies), "expected": N_CLIENTS * ROUNDS,
            "p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99), "mean_ms": statistics.fmean(latencies),
            "baseline_p50_ms": pct(base, 0.5), "baseline_p99_ms": pct(base, 0.99)}


async def main() -> dict:
    with nats_and_postgres() as servers:
        return await _run(servers.nats_url, servers.database_url)


async def _run(nats_url: str, database_url: str) -> dict:
    tag = uuid.uuid4().hex[:6]
    settings = Settings(NATS_URL=nats_url, DATABASE_URL=database_url, subject_prefix=f"b{tag}.", schema_suffix=f"_b{tag}",
                        jwt_secret="bench-secret-0123456789abcdef0123456789", log_level="WARNING")
    runtime = ServiceRuntime(service, settings)
    await runtime.start(workers=False)
    runtime.app.state.reporting_settings = ReportingSettings(service_urls={}, sse_client_queue=64)
    runtime.app.state.clock = lambda: datetime(2026, 4, 2, tzinfo=UTC)
    token = mint_token(settings.jwt_secret, sub="bench", tenant="acme", roles=["company_admin"], ttl_seconds=3600)
    try:
        gen = await bench_generation(runtime, token)
        print(f"generation, {gen['evidence']} evidence snippets (baseline json.dumps of the same data: "
              f"{gen['baseline_json_dumps_ms']:.1f} ms)")
        print(f"  generate (HTTP route, Postgres, deterministic): {gen['generate_ms']:8.1f} ms = {gen['generate_x']:6.1f}x baseline")
        print(f"  export.pdf  ({gen['pdf_bytes']:>8} bytes):          {gen['pdf_ms']:8.1f} ms = {gen['pdf_x']:6.1f}x baseline")
        print(f"  export.pptx ({gen['pptx_bytes']:>8} bytes):          {gen['pptx_ms']:8.1f} ms = {gen['pptx_x']:6.1f}x baseline")
        fan = await bench_fanout(runtime, nats_url, token)
        print(f"SSE fan-out: {fan['clients']} clients x {fan['rounds']} updates, delivered {fan['delivered']}/{fan['expected']}")
        print(f"  publish -> receipt p50 {fan['p50_ms']:.1f} ms, p99 {fan['p99_ms']:.1f} ms, mean {fan['mean_ms']:.1f} ms")
        print(f"  baseline NATS core fan-out to {fan['clients']} subscriptions: p50 {fan['baseline_p50_ms']:.2f} ms, "
              f"p99 {fan['baseline_p99_ms']:.2f} ms; ratio p50 {fan['p50_ms'] / max(fan['baseline_p50_ms'], 1e-6):.1f}x")
        return {"generation": gen, "fanout": fan}
    finally:
        async with runtime.pool.acquire() as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{runtime.schema}" CASCADE')
        await runtime.stop()


if __name__ == "__main__":
    asyncio.run(main())
