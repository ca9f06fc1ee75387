"""Builders for program-graph tests: nodes, facts, a tiny catalogue, the rule-pack evaluator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.program_graph import readiness
from services.program_graph.config import ProgramGraphSettings
from services.program_graph.domain import NodeSpec
from services.program_graph.readiness import Evaluator, Fact
from services.program_graph.rule_packs import load_packs

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def node(node_id: str, kind: str = "capability", *deps: str, **fields: Any) -> NodeSpec:
    if kind in ("service", "test") and "service" not in fields:
        fields["service"] = node_id.split(":", 1)[-1]
    return NodeSpec(id=node_id, kind=kind, depends_on=tuple(deps), **fields)


def graph(*nodes: NodeSpec) -> dict[str, NodeSpec]:
    return {n.id: n for n in nodes}


def evaluator(**defaults: str | None) -> Evaluator:
    packs = load_packs(ProgramGraphSettings().rule_packs_dir)
    return Evaluator(packs=packs, default_packs={"capability": "standard", "milestone": None, **defaults})


def ci(service: str, suite: str = "unit", status: str = "passed", *, minutes: int = 0, failed: int | None = None,
       event_id: str | None = None) -> Fact:
    failed = (0 if status == "passed" else 2) if failed is None else failed
    data = {"service": service, "suite": suite, "status": status, "passed": 10, "failed": failed,
            "reported_at": T0 + timedelta(minutes=minutes)}
    return readiness.fact_of(readiness.CI, data, event_id=event_id or f"ci-{service}-{suite}-{minutes}", arrived_at=NOW)


def deploy(service: str, version: str = "1.0.0", environment: str = "production", *, minutes: int = 0) -> Fact:
    data = {"service": service, "version": version, "environment": environment, "deployed_at": T0 + timedelta(minutes=minutes)}
    return readiness.fact_of(readiness.DEPLOY, data, event_id=f"dep-{service}-{minutes}", arrived_at=NOW)


def slo(service: str, name: str = "availability", met: bool = True, *, minutes: int = 0) -> Fact:
    data = {"service": service, "slo": name, "met": met, "window": "30d", "reported_at": T0 + timedelta(minutes=minutes)}
    return readiness.fact_of(readiness.SLO, data, event_id=f"slo-{service}-{name}-{minutes}", arrived_at=NOW)


def docs(service: str, endpoint: float = 0.9, event: float = 0.9, *, minutes: int = 0) -> Fact:
    data = {"service": service, "endpoint_coverage": endpoint, "event_coverage": event, "reported_at": T0 + timedelta(minutes=minutes)}
    return readiness.fact_of(readiness.DOCS, data, event_id=f"docs-{service}-{minutes}", arrived_at=NOW)


def proposal(proposal_id: str, decision: str = "approved", *, minutes: int = 0) -> Fact:
    data = {"proposal_id": proposal_id, "kind": "jsonschema", "contract": "x.y.z.v1", "decision": decision, "breaking": True,
            "decided_by": "council", "decided_at": T0 + timedelta(minutes=minutes)}
    return readiness.fact_of(readiness.PROPOSAL, data, event_id=f"p-{proposal_id}-{minutes}", arrived_at=NOW)


def all_green(service: str) -> list[Fact]:
    return [ci(service), deploy(service), slo(service), docs(service)]


def tiny_catalog() -> dict[str, Any]:
    """ingest -> (item.created) -> score, audit; score -> (score.made) -> audit; x <-> y loop; self consumes its own event."""
    def svc(name: str, consumes: list[str], produces: list[str]) -> dict[str, Any]:
        return {"name": name, "description": f"{name} service", "version": "1.0.0", "consumes": consumes, "produces": produces,
                "http": [], "migrations": []}

    return {
        "events": [
            {"type": "t.item.created.v1", "producers": ["ingest"], "consumers": ["audit", "score"]},
            {"type": "t.score.made.v1", "producers": ["score"], "consumers": ["audit"]},
            {"type": "t.x.said.v1", "producers": ["x"], "consumers": ["y"]},
            {"type": "t.y.said.v1", "producers": ["y"], "consumers": ["x"]},
            {"type": "t.self.noted.v1", "producers": ["self"], "consumers": ["self"]},
        ],
        "services": [
            svc("ingest", [], ["t.item.created.v1"]),
            svc("score", ["t.item.created.v1"], ["t.score.made.v1"]),
            svc("audit", ["t.item.created.v1", "t.score.made.v1"], []),
            svc("x", ["t.y.said.v1"], ["t.x.said.v1"]),
            svc("y", ["t.x.said.v1"], ["t.y.said.v1"]),
            svc("self", ["t.self.noted.v1"], ["t.self.noted.v1"]),
        ],
    }
