"""Pure core of blast-radius: the catalogue as a graph, impact propagation, risk and readiness.

No I/O. The analyzers (analyzers.py) turn one change into seeds on this graph; this module
walks the graph from the seeds, keeps the shortest explaining path of every node, merges
the impacts of the changes of a bundle, scores the risk and decides readiness.

Node ids are stable strings so that reports diff cleanly between runs:
    event:<type>                      a contract (event type)
    service:<name>                    a service of the catalogue
    endpoint:<service>:<METHOD> <path>  an HTTP route of a service
    policy:<service>:<policy>         a policy a service enforces

Severities, strongest first: breaking (a direct consumer of a breaking change), degraded
(reached through the outputs of an affected service), notice (sees a compatible change),
none (context only: the changed contract, its producers, carrier events).
Only service and endpoint nodes of severity breaking or degraded are "affected".
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SEVERITIES: tuple[str, ...] = ("breaking", "degraded", "notice", "none")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
AFFECTED_SEVERITIES = frozenset({"breaking", "degraded"})
AFFECTED_KINDS = frozenset({"service", "endpoint"})

# Risk model (documented in README "Risk score"): exposure is a weighted count of affected
# nodes, base terms are properties of the change itself; score = 1 - (1 - base) * e^(-exposure / SCALE).
SEVERITY_WEIGHT = {"breaking": 1.0, "degraded": 0.5, "notice": 0.05, "none": 0.0}
DEPTH_DECAY = 0.7  # each further service hop counts 30 % less
ENDPOINT_FACTOR = 0.5  # HTTP callers are not in the catalogue: an endpoint counts half a service
EXPOSURE_SCALE = 3.0
MAX_BASE = 0.9
BASE_BREAKING = 0.25
BASE_SECURITY_RELAX = 0.15
BASE_UNKNOWN_CHANGE = 0.1  # per change whose kind the analyzers do not know (at most 3 count)


def event_node(event_type: str) -> str:
    return f"event:{event_type}"


def service_node(name: str) -> str:
    return f"service:{name}"


def endpoint_node(service: str, endpoint: str) -> str:
    return f"endpoint:{service}:{endpoint}"


def policy_node(service: str, policy: str) -> str:
    return f"policy:{service}:{policy}"


class CatalogError(ValueError):
    """The catalogue export does not have the expected shape."""


# --- the catalogue as a graph -------------------------------------------------------------


@dataclass(frozen=True)
class EventInfo:
    type: str
    owner: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    version: str
    consumes: tuple[str, ...]
    produces: tuple[str, ...]
    endpoints: tuple[str, ...]  # "METHOD /path", sorted


@dataclass(frozen=True)
class CatalogGraph:
    """Events and services of a catalogue export, with adjacency for propagation."""

    events: Mapping[str, EventInfo]
    services: Mapping[str, ServiceInfo]
    fingerprint: str
    # service -> event types it emits (its own `produces` plus events that list it as producer)
    emits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_export(cls, data: Mapping[str, Any]) -> CatalogGraph:
        """Build from `summit_common.catalog.export_catalog()` (or `summit catalog export` JSON)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("events"), list) or not isinstance(data.get("services"), list):
            raise CatalogError("a catalogue needs lists 'events' and 'services'")
        events: dict[str, EventInfo] = {}
        services: dict[str, ServiceInfo] = {}
        try:
            for raw in data["events"]:
                events[raw["type"]] = EventInfo(
                    type=raw["type"],
                    owner=str(raw.get("owner") or ""),
                    producers=tuple(sorted(set(raw.get("producers") or ()))),
                    consumers=tuple(sorted(set(raw.get("consumers") or ()))),
                    schema=raw.get("schema") or {},
                )
            for raw in data["services"]:
                endpoints = sorted({f"{m.upper()} {route['path']}" for route in raw.get("http") or () for m in route.get("methods") or ()})
                services[raw["name"]] = ServiceInfo(
                    name=raw["name"],
                    version=str(raw.get("version") or ""),
                    consumes=tuple(sorted(set(raw.get("consumes") or ()))),
                    produces=tuple(sorted(set(raw.get("produces") or ()))),
                    endpoints=tuple(endpoints),
                )
        except (KeyError, TypeError, AttributeError) as exc:
            raise CatalogError(f"malformed catalogue entry: {type(exc).__name__}: {exc}") from None
        emits: dict[str, set[str]] = {name: set(info.produces) for name, info in services.items()}
        for info in events.values():
            for producer in info.producers:
                emits.setdefault(producer, set()).add(info.type)
        # A consumer named by an event but absent from `services` still gets a node.
        return cls(
            events=events,
            services=services,
            fingerprint=_fingerprint(events, services),
            emits={name: tuple(sorted(types)) for name, types in emits.items()},
        )

    def consumers_of(self, event_type: str) -> tuple[str, ...]:
        info = self.events.get(event_type)
        return info.consumers if info else ()

    def emitted_by(self, service: str) -> tuple[str, ...]:
        return self.emits.get(service, ())

    def summary(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "events": len(self.events), "services": len(self.services)}


def _fingerprint(events: Mapping[str, EventInfo], services: Mapping[str, ServiceInfo]) -> str:
    body = {
        "events": {t: [e.producers, e.consumers, e.schema] for t, e in sorted(events.items())},
        "services": {n: [s.version, s.consumes, s.produces, s.endpoints] for n, s in sorted(services.items())},
    }
    return "sha256:" + hashlib.sha256(canonical_json(body).encode()).hexdigest()[:16]


# --- impact graphs --------------------------------------------------------------------------


@dataclass(frozen=True)
class ImpactNode:
    id: str
    kind: str  # event | service | endpoint | policy
    name: str
    role: str  # changed | producer | consumer | transitive | carrier | endpoint | enforcer
    severity: str
    depth: int  # service hops from the change (0 = the changed thing itself)
    path: tuple[str, ...]  # node ids from a root of the change to this node
    reason: str

    @property
    def affected(self) -> bool:
        return self.kind in AFFECTED_KINDS and self.severity in AFFECTED_SEVERITIES

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "role": self.role, "severity": self.severity,
            "depth": self.depth, "path": list(self.path), "reason": self.reason, "affected": self.affected,
        }


def _better(a: ImpactNode, b: ImpactNode) -> bool:
    """True when `a` explains its node better than `b`: stronger severity, then shorter path."""
    return (_RANK[a.severity], a.depth, len(a.path), a.path) < (_RANK[b.severity], b.depth, len(b.path), b.path)


@dataclass(frozen=True)
class Impact:
    roots: tuple[str, ...]
    nodes: Mapping[str, ImpactNode]
    edges: frozenset[tuple[str, str, str]]  # (from, to, relation)

    @property
    def affected(self) -> list[ImpactNode]:
        return [n for _, n in sorted(self.nodes.items()) if n.affected]

    def as_dict(self) -> dict[str, Any]:
        return {
            "roots": sorted(self.roots),
            "nodes": [n.as_dict() for _, n in sorted(self.nodes.items())],
            "edges": [{"from": f, "to": t, "relation": r} for f, t, r in sorted(self.edges)],
            "affected": [n.id for n in self.affected],
        }


class ImpactBuilder:
    """Collects nodes (keeping the best explanation of each) and edges."""

    def __init__(self) -> None:
        self.roots: set[str] = set()
        self.nodes: dict[str, ImpactNode] = {}
        self.edges: set[tuple[str, str, str]] = set()

    def root(self, node: ImpactNode) -> None:
        self.roots.add(node.id)
        self.add(node)

    def add(self, node: ImpactNode) -> bool:
        """Keep `node` if its id is new or it explains the id better. True when kept."""
        current = self.nodes.get(node.id)
        if current is None or _better(node, current):
            self.nodes[node.id] = node
            return True
        return False

    def edge(self, source: str, target: str, relation: str) -> None:
        self.edges.add((source, target, relation))

    def build(self) -> Impact:
        return Impact(roots=tuple(sorted(self.roots)), nodes=dict(self.nodes), edges=frozenset(self.edges))


@dataclass(frozen=True)
class Seed:
    """An event whose consumers are hit by a change: severity for its direct consumers, the
    path that leads to the event, and why. `spared` consumers are known not to be affected."""

    event_type: str
    severity: str
    path: tuple[str, ...]
    reason: str
    spared: Mapping[str, str] = field(default_factory=dict)  # consumer -> why it is spared


def propagate(builder: ImpactBuilder, graph: CatalogGraph, seeds: Sequence[Seed], *, transitive: bool, start_depth: int = 0) -> None:
    """Breadth-first from the seed events: event -> its consumers -> the events they emit -> ...

    Direct consumers take the seed's severity; consumers reached through an affected
    service's outputs are `degraded`. Propagation continues only from breaking or degraded
    services, and only when `transitive`. BFS in sorted order gives every node its shortest
    path, ties broken by node id, so the output is deterministic.
    """
    queue: deque[tuple[str, tuple[str, ...], int, str, Seed | None]] = deque()
    for seed in sorted(seeds, key=lambda s: (_RANK[s.severity], s.path, s.event_type)):
        queue.append((seed.event_type, seed.path, start_depth, seed.severity, seed))
    expanded: set[str] = set()
    while queue:
        event_type, path, depth, severity, seed = queue.popleft()
        event_id = event_node(event_type)
        for consumer in graph.consumers_of(event_type):
            sid = service_node(consumer)
            builder.edge(event_id, sid, "consumed_by")
            if seed is not None and consumer in seed.spared:
                builder.add(ImpactNode(sid, "service", consumer, "consumer", "notice", depth + 1, (*path, sid), seed.spared[consumer]))
                continue
            role = "consumer" if seed is not None else "transitive"
            reason = seed.reason if seed is not None else f"consumes {event_type}, emitted by an affected service"
            kept = builder.add(ImpactNode(sid, "service", consumer, role, severity, depth + 1, (*path, sid), reason))
            if not (kept and transitive and severity in AFFECTED_SEVERITIES) or sid in expanded:
                continue
            expanded.add(sid)
            for emitted in graph.emitted_by(consumer):
                eid = event_node(emitted)
                builder.edge(sid, eid, "emits")
                builder.add(ImpactNode(eid, "event", emitted, "carrier", "none", depth + 1, (*path, sid, eid),
                                       f"emitted by {consumer}"))
                queue.append((emitted, (*path, sid, eid), depth + 1, "degraded", None))


def merge(impacts: Iterable[Impact]) -> Impact:
    builder = ImpactBuilder()
    for impact in impacts:
        builder.roots.update(impact.roots)
        for node in impact.nodes.values():
            builder.add(node)
        builder.edges.update(impact.edges)
    return builder.build()


# --- risk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Risk:
    score: float
    base: float
    exposure: float
    base_terms: tuple[tuple[str, float], ...]
    exposure_terms: tuple[tuple[str, float], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "base": round(self.base, 4),
            "exposure": round(self.exposure, 4),
            "formula": f"1 - (1 - base) * exp(-exposure / {EXPOSURE_SCALE})",
            "base_terms": [{"term": name, "value": round(value, 4)} for name, value in self.base_terms],
            "exposure_terms": [{"node": node, "weight": round(weight, 4)} for node, weight in self.exposure_terms],
        }


def node_weight(node: ImpactNode, *, scope: float = 1.0) -> float:
    """A node's contribution to exposure: severity weight, decayed per hop, halved for endpoints."""
    if node.kind not in AFFECTED_KINDS:
        return 0.0
    weight = SEVERITY_WEIGHT[node.severity] * DEPTH_DECAY ** max(node.depth - 1, 0)
    if node.kind == "endpoint":
        weight *= ENDPOINT_FACTOR
    return weight * scope


def risk_score(impact: Impact, *, base_terms: Sequence[tuple[str, float]], scope: float = 1.0) -> Risk:
    """Risk in [0, 1]. Monotone: more affected nodes or more base terms never lower it.
    `scope` (0..1] scales exposure, e.g. a policy limited to some tenants."""
    scope = min(max(scope, 0.0), 1.0)
    terms = tuple(sorted((node_id, node_weight(node, scope=scope)) for node_id, node in impact.nodes.items()
                         if node_weight(node, scope=scope) > 0))
    exposure = math.fsum(weight for _, weight in terms)
    base = min(math.fsum(max(value, 0.0) for _, value in base_terms), MAX_BASE)
    score = 1.0 - (1.0 - base) * math.exp(-exposure / EXPOSURE_SCALE)
    score = round(min(max(score, 0.0), 1.0), 4)
    return Risk(score=score, base=base, exposure=exposure, base_terms=tuple(sorted(base_terms)), exposure_terms=terms)


# --- readiness ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalDecision:
    proposal_id: str
    contract: str
    decision: str  # approved | rejected
    breaking: bool
    decided_by: str
    decided_at: str

    def as_dict(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "contract": self.contract, "decision": self.decision,
                "breaking": self.breaking, "decided_by": self.decided_by, "decided_at": self.decided_at}


@dataclass(frozen=True)
class BreakingChange:
    """A breaking change that needs an approved proposal: which contract, which proposal id."""

    index: int
    contract: str
    proposal_id: str | None


@dataclass(frozen=True)
class Readiness:
    ready: bool
    threshold: float
    reasons: tuple[str, ...]
    proposals: tuple[Mapping[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "threshold": self.threshold, "reasons": list(self.reasons),
                "proposals": [dict(p) for p in self.proposals]}


def readiness(*, risk: float, threshold: float, breaking: Sequence[BreakingChange],
              decisions: Mapping[str, ProposalDecision]) -> Readiness:
    """Ready when risk < threshold and every breaking change names a proposal that was approved,
    as breaking, for the same contract. Reasons list what blocks, or why it passes."""
    blockers: list[str] = []
    passes: list[str] = []
    if risk < threshold:
        passes.append(f"risk {risk} is below the threshold {threshold}")
    else:
        blockers.append(f"risk {risk} is not below the threshold {threshold}")
    seen: dict[str, Mapping[str, Any]] = {}
    for change in breaking:
        where = f"breaking change #{change.index} to {change.contract}"
        if not change.proposal_id:
            blockers.append(f"{where} has no proposal_id")
            continue
        decision = decisions.get(change.proposal_id)
        seen[change.proposal_id] = decision.as_dict() if decision else {"proposal_id": change.proposal_id, "decision": None}
        if decision is None:
            blockers.append(f"{where}: proposal {change.proposal_id} has no decision yet")
        elif decision.decision != "approved":
            blockers.append(f"{where}: proposal {change.proposal_id} was {decision.decision}")
        elif decision.contract != change.contract:
            blockers.append(f"{where}: proposal {change.proposal_id} is for {decision.contract}, not {change.contract}")
        elif not decision.breaking:
            blockers.append(f"{where}: proposal {change.proposal_id} was approved as a non-breaking change")
        else:
            passes.append(f"{where} is approved by proposal {change.proposal_id}")
    if not breaking:
        passes.append("no breaking change")
    return Readiness(ready=not blockers, threshold=threshold, reasons=tuple(blockers or passes),
                     proposals=tuple(seen[k] for k in sorted(seen)))


# --- output ---------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace: the form digests are taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(report: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(report).encode()).hexdigest()


def summarize(kinds: Sequence[str], impact: Impact, risk: Risk, *, breaking_count: int, headlines: Sequence[str]) -> list[str]:
    """Human-readable lines: what changed, who is affected (direct / transitive), the risk."""
    affected = impact.affected
    services = [n for n in affected if n.kind == "service"]
    direct = [n.name for n in services if n.severity == "breaking"]
    transitive = [n.name for n in services if n.severity == "degraded"]
    endpoints = [n.name for n in affected if n.kind == "endpoint"]
    noticed = sorted(n.name for n in impact.nodes.values() if n.kind == "service" and n.severity == "notice")
    lines = list(headlines)
    lines.append(f"{breaking_count} breaking change(s) in {len(kinds)} change(s) of kind {', '.join(sorted(set(kinds)))}")
    lines.append(
        f"affected: {len(services)} service(s): {len(direct)} direct ({', '.join(direct) or '-'}), "
        f"{len(transitive)} transitive ({', '.join(transitive) or '-'}); {len(endpoints)} endpoint(s)"
    )
    if noticed:
        lines.append(f"notified, not affected: {', '.join(noticed)}")
    lines.append(f"risk {risk.score} (base {round(risk.base, 4)}, exposure {round(risk.exposure, 4)})")
    return lines


# --- the readiness signal -------------------------------------------------------------------

READINESS_SIGNALED = "governance.readiness.signaled.v1"
MAX_SIGNAL_ITEMS = 200  # the event lists at most this many affected nodes / reasons; GET has them all


def readiness_signal(*, assessment_id: str, change_kind: str, risk: float, state: Readiness | Mapping[str, Any],
                     affected: Sequence[str]) -> dict[str, Any]:
    """The data of governance.readiness.signaled.v1 for an assessment."""
    ready, reasons = (state.ready, state.reasons) if isinstance(state, Readiness) else (state["ready"], state["reasons"])
    return {
        "assessment_id": assessment_id,
        "change_kind": change_kind,
        "risk_score": risk,
        "ready": ready,
        "affected": list(affected)[:MAX_SIGNAL_ITEMS],
        "reasons": [reason[:1000] for reason in list(reasons)[:MAX_SIGNAL_ITEMS]],
    }
