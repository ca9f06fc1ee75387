"""Benchmark: schema-viz on a synthetic platform of about 5,000 nodes.

    .venv/bin/python -m services.schema_viz.bench [--services 160] [--repeat 7]

Builds synthetic sources (services with endpoints, events with consumers, migrations with
foreign keys, the chassis tables), then times, each as the median of --repeat runs:

  baseline          json.dumps of the same nodes and edges as plain dicts (no sorting, no views)
  build             parsing every migration and building the graph (once per process, at first use)
  maps/knowledge    GET /v1/maps/knowledge through the real route (in-process ASGI, JWT checked)
  n-hop export      POST /v1/export/diagram, events around one service, 2 hops, Mermaid
  n-hop erd         POST /v1/export/diagram, erd around one table, 2 hops, Graphviz
  full events       the whole event-flow diagram as Mermaid (for scale)

and prints each against the baseline measured in the same run. The target is under 1 s for
maps/knowledge and the N-hop exports. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Callable

from services.schema_viz import domain
from services.schema_viz.domain import Selector, Sources
from services.schema_viz.maps import PlatformMap

TARGET_SECONDS = 1.0
SECRET = "bench-secret-of-at-least-32-bytes-0123456789"
CHASSIS = ("0000_chassis.sql", """
CREATE TABLE IF NOT EXISTS inbox (msg_key text PRIMARY KEY, event_type text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS outbox (seq bigserial PRIMARY KEY, msg_id text NOT NULL, subject text NOT NULL,
    payload bytea NOT NULL, sent_at timestamptz);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE TABLE IF NOT EXISTS audit_log (id bigserial PRIMARY KEY, tenant_id text, action text NOT NULL);
""")


def synthetic_sources(n_services: int, *, seed: int = 7) -> Sources:
    """About 32 nodes per service: 10 endpoints, 10 events, 8 tables + 3 chassis tables, itself."""
    rnd = random.Random(seed)
    names = [f"svc-{i:03d}" for i in range(n_services)]
    events, services = [], []
    consumers: dict[str, list[str]] = {}
    for name in names:
        for k in range(10):
            etype = f"d{name[-3:]}.entity{k}.happened.v1"
            who = sorted(rnd.sample([n for n in names if n != name], k=min(3, n_services - 1)))
            for c in who:
                consumers.setdefault(c, []).append(etype)
            events.append({"type": etype, "domain": f"d{name[-3:]}", "major": 1, "owner": name,
                           "description": "synthetic", "schema": {"properties": {"id": {}, "at": {}}},
                           "producers": [name], "consumers": who})
    migrations = {}
    for name in names:
        sql = ["CREATE TABLE t0 (tenant_id text NOT NULL, id text NOT NULL, at timestamptz, PRIMARY KEY (tenant_id, id));"]
        for t in range(1, 8):
            parent = rnd.randrange(t)
            sql.append(f"CREATE TABLE t{t} (tenant_id text NOT NULL, id text NOT NULL, parent_id text, "
                       f"note text, PRIMARY KEY (tenant_id, id), "
                       f"FOREIGN KEY (tenant_id, parent_id) REFERENCES t{parent} (tenant_id, id));")
            sql.append(f"CREATE INDEX t{t}_parent ON t{t} (tenant_id, parent_id);")
        migrations[name] = [("0001_init.sql", "\n".join(sql))]
        services.append({
            "name": name, "description": "synthetic", "version": "1.0.0",
            "consumes": sorted(consumers.get(name, [])), "produces": [f"d{name[-3:]}.entity{k}.happened.v1" for k in range(10)],
            "http": [{"path": f"/v1/things{k}/{{id}}", "methods": ["GET"], "name": f"get{k}"} for k in range(10)],
            "migrations": ["0001_init.sql"],
        })
    calls = [domain.CallDecl(caller=a, callee=rnd.choice([n for n in names if n != a]), what="GET /v1/x")
             for a in names for _ in range(2)]
    catalog = domain.parse_catalog({"catalog_version": 1, "events": events, "services": services})
    return Sources(catalog=catalog, migrations=migrations, chassis=[CHASSIS], calls=calls)


def timed(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


async def _route_timings(pmap: PlatformMap, repeat: int, focus_service: str, focus_table: str) -> dict[str, float]:
    """The real routes in process: FastAPI app with the schema-viz router, token verification on."""
    import httpx
    from fastapi import FastAPI

    from services.schema_viz import api
    from summit_common import problems
    from summit_common.auth import TokenVerifier, mint_token

    app = FastAPI()
    problems.install(app)
    app.include_router(api.router)
    app.state.verifier = TokenVerifier(secret=SECRET)
    holder = api._MapHolder()
    holder.value = pmap
    app.state.schema_viz_map = holder
    headers = {"Authorization": f"Bearer {mint_token(SECRET, sub='bench', tenant='t')}", "Accept": "text/plain"}
    out: dict[str, float] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        async def run(label: str, call) -> None:
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                r = await call()
                runs.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
            out[label] = statistics.median(runs)

        await run("maps/knowledge", lambda: client.get("/v1/maps/knowledge", headers=headers))
        await run("n-hop export (events, 2 hops, mermaid)", lambda: client.post("/v1/export/diagram", headers=headers, json={
            "source": {"kind": "events", "focus": focus_service, "hops": 2}, "format": "mermaid"}))
        await run("n-hop export (erd, 2 hops, dot)", lambda: client.post("/v1/export/diagram", headers=headers, json={
            "source": {"kind": "erd", "focus": focus_table, "hops": 2}, "format": "dot"}))
        await run("full events diagram (mermaid)", lambda: client.post("/v1/export/diagram", headers=headers, json={
            "source": {"kind": "events"}, "format": "mermaid"}))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=160, help="synthetic services (about 32 nodes each)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    src = synthetic_sources(args.services)
    started = time.perf_counter()
    pmap = PlatformMap.build(src)
    build = time.perf_counter() - started
    graph = pmap.graph
    plain = {"nodes": [{"id": n.id, "kind": n.kind, "label": n.label, "group": n.group, "attrs": n.attrs}
                       for n in graph.nodes.values()],
             "edges": [{"id": e.id, "kind": e.kind, "source": e.source, "target": e.target, "label": e.label,
                        "attrs": e.attrs} for e in graph.edges]}
    baseline = timed(lambda: json.dumps(plain).encode(), args.repeat)
    focus_service = domain.service_id("svc-000")
    focus_table = domain.table_id("svc_000", "t3")
    routes = asyncio.run(_route_timings(pmap, args.repeat, focus_service, focus_table))
    sizes = {
        "maps/knowledge": len(pmap.knowledge()),
        "n-hop export (events, 2 hops, mermaid)": len(pmap.export(Selector(kind="events", focus=focus_service, hops=2),
                                                                  "mermaid").text),
    }

    print(f"synthetic platform: {len(graph.nodes)} nodes, {len(graph.edges)} edges "
          f"({args.services} services; median of {args.repeat} runs)")
    print(f"{'':42} {'seconds':>9} {'x baseline':>11}  target")
    print(f"{'baseline: json.dumps of the plain graph':42} {baseline:9.4f} {1.0:11.1f}")
    print(f"{'build (parse migrations, once per process)':42} {build:9.4f} {build / baseline:11.1f}")
    ok = True
    for label, seconds in routes.items():
        verdict = "ok" if seconds < TARGET_SECONDS else "SLOW"
        ok &= seconds < TARGET_SECONDS or label.startswith("full")
        size = f"  ({sizes[label]:,} bytes)" if label in sizes else ""
        print(f"{label:42} {seconds:9.4f} {seconds / baseline:11.1f}  {verdict} (< {TARGET_SECONDS:g} s){size}")
    print("schema-viz bench:", "within target" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
