"""Benchmark of blast-radius and program-graph on synthetic 5,000-node graphs.

    .venv/bin/python -m services.program_graph.bench [--nodes 5000] [--repeat 5] [--seed 7] [--strict]

Pure code paths (no NATS, no Postgres): what a request spends beyond its SQL. Each figure
is the median of --repeat runs, printed next to a baseline that does the bare minimum on
the same data in the same run (plain BFS / Kahn's sort / json.dumps), so ratios compare
across machines. Target: every operation under 1 s. --strict exits 1 when one is over.

  impact/assess     blast-radius analyzers.assess: a breaking field removal on the event
                    with the largest blast radius of a 5,000-node catalogue (services +
                    events): paths, severities, merge, risk, report
                    baseline: BFS of the same closure (a set of names, no paths)
  catalogue load    CatalogGraph.from_export of that catalogue (once per process in the service)
  critical path     program-graph CPM (forward + backward pass, slack, path) on a 5,000-node DAG
                    baseline: Kahn's topological sort of the same DAG
  topology json     domain.topology + json.dumps;  baseline: json.dumps of the raw node list
  topology mermaid  domain.mermaid;  baseline: the same json.dumps
  readiness         every node's gates under the standard pack with one fact set per service
                    baseline: Kahn's sort again (the walk evaluation needs)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.blast_radius import analyzers
from services.blast_radius.domain import CatalogGraph
from services.program_graph import domain, readiness
from services.program_graph.config import ProgramGraphSettings
from services.program_graph.domain import NodeSpec
from services.program_graph.readiness import Evaluator, Facts
from services.program_graph.rule_packs import load_packs

TARGET_SECONDS = 1.0


# --- synthetic data ------------------------------------------------------------------------------------------


def synthetic_catalog(nodes: int, rng: random.Random) -> dict[str, Any]:
    """A catalogue of `nodes` services + events: 30 % services; each event has one producer
    and 1-4 consumers, so consumers' outputs fan out further (a deep, wide blast radius)."""
    n_services = max(2, nodes * 3 // 10)
    n_events = max(1, nodes - n_services)
    services = [f"svc-{i:05d}" for i in range(n_services)]
    events = []
    consumes: dict[str, list[str]] = {s: [] for s in services}
    produces: dict[str, list[str]] = {s: [] for s in services}
    for i in range(n_events):
        event_type = f"bench.e{i:05d}.done.v1"
        producer = services[rng.randrange(n_services)]
        consumers = sorted(set(rng.sample(services, k=min(n_services, rng.randint(1, 4)))) - {producer})
        produces[producer].append(event_type)
        for c in consumers:
            consumes[c].append(event_type)
        events.append({"type": event_type, "owner": producer, "producers": [producer], "consumers": consumers,
                       "schema": {"properties": {"id": {"type": "string"}, "body": {"type": "object",
                                                                                      "properties": {"x": {"type": "integer"}}}}}})
    return {
        "events": events,
        "services": [{"name": s, "version": "1.0.0", "consumes": sorted(consumes[s]), "produces": sorted(produces[s]),
                      "http": [{"path": f"/v1/{s}/items", "methods": ["GET"], "name": "list"}]} for s in services],
    }


def synthetic_program(nodes: int, rng: random.Random) -> dict[str, NodeSpec]:
    """A 5,000-node program DAG: 20 % services, then capabilities needing 1-3 earlier nodes, then
    milestones over capabilities. Ids sort in creation order, dependencies point backwards."""
    n_services = max(1, nodes // 5)
    n_milestones = max(1, nodes // 50)
    n_caps = max(1, nodes - n_services - n_milestones)
    graph: dict[str, NodeSpec] = {}
    ids: list[str] = []
    for i in range(n_services):
        node_id = f"service:s{i:05d}"
        graph[node_id] = NodeSpec(id=node_id, kind="service", service=f"s{i:05d}")
        ids.append(node_id)
    caps = []
    for i in range(n_caps):
        node_id = f"cap:c{i:05d}"
        deps = {ids[rng.randrange(len(ids))] for _ in range(rng.randint(1, 3))}
        graph[node_id] = NodeSpec(id=node_id, kind="capability", depends_on=tuple(sorted(deps)), duration=float(rng.randint(1, 10)))
        ids.append(node_id)
        caps.append(node_id)
    for i in range(n_milestones):
        node_id = f"release:m{i:04d}"
        deps = set(rng.sample(caps, k=min(len(caps), 20)))
        graph[node_id] = NodeSpec(id=node_id, kind="milestone", depends_on=tuple(sorted(deps)))
    return graph


def synthetic_facts(graph: dict[str, NodeSpec], rng: random.Random) -> Facts:
    now = datetime.now(UTC)
    facts = []
    for node in graph.values():
        if node.kind != "service":
            continue
        s = node.service
        status = rng.choice(["passed"] * 9 + ["failed"])
        facts.append(readiness.fact_of(readiness.CI, {"service": s, "suite": "unit", "status": status, "passed": 10,
                                                      "failed": 0 if status == "passed" else 1, "reported_at": now},
                                       event_id=f"ci-{s}", arrived_at=now))
        facts.append(readiness.fact_of(readiness.DEPLOY, {"service": s, "version": "1.0.0", "environment": "production",
                                                          "deployed_at": now}, event_id=f"d-{s}", arrived_at=now))
        facts.append(readiness.fact_of(readiness.DOCS, {"service": s, "endpoint_coverage": rng.random(), "event_coverage": 0.9,
                                                        "reported_at": now}, event_id=f"doc-{s}", arrived_at=now))
    return Facts(facts)


# --- baselines -----------------------------------------------------------------------------------------------


def bfs_closure(export: dict[str, Any], root: str) -> set[str]:
    consumers = {e["type"]: e["consumers"] for e in export["events"]}
    emits: dict[str, list[str]] = {}
    for e in export["events"]:
        for p in e["producers"]:
            emits.setdefault(p, []).append(e["type"])
    seen: set[str] = set()
    queue = deque([root])
    while queue:
        for c in consumers.get(queue.popleft(), ()):
            if c not in seen:
                seen.add(c)
                queue.extend(emits.get(c, ()))
    return seen


def kahn(deps: dict[str, tuple[str, ...]]) -> list[str]:
    indegree = {n: len(d) for n, d in deps.items()}
    dependents: dict[str, list[str]] = {n: [] for n in deps}
    for n, ds in deps.items():
        for d in ds:
            dependents[d].append(n)
    queue = deque(n for n, k in indegree.items() if k == 0)
    order = []
    while queue:
        n = queue.popleft()
        order.append(n)
        for m in dependents[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                queue.append(m)
    return order


# --- timing --------------------------------------------------------------------------------------------------


def median_seconds(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm up (imports, caches)
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def run(nodes: int = 5000, repeat: int = 5, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    export = synthetic_catalog(nodes, rng)
    catalog = CatalogGraph.from_export(export)
    closures = {e: bfs_closure(export, e) for e in sorted(catalog.events)[: min(200, len(catalog.events))]}
    root = max(closures, key=lambda e: (len(closures[e]), e))
    bundle = {"kind": "schema_diff", "contract": root, "changes": [{"path": "body.x", "change": "removed"}]}
    assessed = analyzers.assess(bundle, catalog)
    assert {a.removeprefix("service:") for a in assessed.affected} == closures[root], "assess disagrees with BFS"

    program = synthetic_program(nodes, rng)
    deps = domain.dependencies(program)
    durations = {n: s.effective_duration for n, s in program.items()}
    domain.validate(program)
    facts = synthetic_facts(program, rng)
    ev = Evaluator(packs=load_packs(ProgramGraphSettings().rule_packs_dir), default_packs={"capability": "standard"})
    now = datetime.now(UTC)
    raw_nodes = [n.model_dump(mode="json") for n in program.values()]

    rows = [
        ("impact/assess", lambda: analyzers.assess(bundle, catalog), lambda: bfs_closure(export, root),
         f"{len(export['events']) + len(export['services'])} nodes, {len(assessed.affected)} affected"),
        ("catalogue load", lambda: CatalogGraph.from_export(export), lambda: bfs_closure(export, root), "once per process"),
        ("critical path", lambda: domain.critical_path(deps, durations), lambda: kahn(deps), f"{len(program)} nodes"),
        ("topology json", lambda: json.dumps(domain.topology(program)), lambda: json.dumps(raw_nodes), f"{len(program)} nodes"),
        ("topology mermaid", lambda: domain.mermaid(program), lambda: json.dumps(raw_nodes), f"{len(program)} nodes"),
        ("readiness", lambda: readiness.evaluate(program, facts, ev, now=now), lambda: kahn(deps), f"{len(facts)} facts"),
    ]
    results = []
    for name, fn, baseline, note in rows:
        seconds = median_seconds(fn, repeat)
        base = median_seconds(baseline, repeat)
        results.append({"operation": name, "seconds": seconds, "baseline_seconds": base, "ratio": seconds / base if base else float("inf"),
                        "under_target": seconds < TARGET_SECONDS, "note": note})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.program_graph.bench", description="blast-radius and program-graph benchmark")
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strict", action="store_true", help="exit 1 when an operation is over the 1 s target")
    args = parser.parse_args(argv)
    results = run(args.nodes, args.repeat, args.seed)
    print(f"{'operation':<18} {'median':>10} {'baseline':>10} {'ratio':>8}  target <{TARGET_SECONDS:g}s  note")
    for r in results:
        print(f"{r['operation']:<18} {r['seconds'] * 1000:>8.1f}ms {r['baseline_seconds'] * 1000:>8.1f}ms {r['ratio']:>7.1f}x"
              f"  {'ok' if r['under_target'] else 'OVER':<12} {r['note']}")
    over = [r["operation"] for r in results if not r["under_target"]]
    if over:
        print(f"over target: {', '.join(over)}", file=sys.stderr)
    return 1 if over and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
