"""Pure readiness engine of program-graph: facts from governance events, rule packs as data,
and the evaluation of every node's gates. No I/O.

Facts: the latest value per (type, subject, key), e.g. ("ci", "unified-profile", "unit"),
"latest" by the fact's own time (reported_at, deployed_at, decided_at), not by arrival, so a
late, older report never hides a newer one.

Rule packs (rule_packs/*.yaml, see README) list rules; each rule has a kind from RULE_KINDS
with validated parameters. A node is ready when every gate passes: its own rules, evaluated
for each service it covers, and one `dependency` gate per node it depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from services.program_graph.domain import Graph, NodeSpec, ancestors, dependencies, topological_order

# --- facts ---------------------------------------------------------------------------------------

CI = "governance.ci.result.reported.v1"
DEPLOY = "governance.deploy.reported.v1"
SLO = "governance.slo.reported.v1"
DOCS = "governance.docs.coverage.reported.v1"
PROPOSAL = "governance.proposal.decided.v1"
FACT_EVENTS: tuple[str, ...] = (CI, DEPLOY, SLO, DOCS, PROPOSAL)

FactKey = tuple[str, str, str]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Fact:
    type: str  # ci | deploy | slo | docs | proposal
    subject: str  # a service name, or a proposal id
    key: str  # suite | environment | slo name | ''
    value: Mapping[str, Any]
    observed_at: datetime  # the fact's own time
    event_type: str
    event_id: str | None = None
    arrived_at: datetime | None = None  # None for a hypothetical fact (dry-run)

    @property
    def fact_key(self) -> FactKey:
        return (self.type, self.subject, self.key)

    def newer_than(self, other: Fact | None) -> bool:
        return other is None or (self.observed_at, self.event_id or "") > (other.observed_at, other.event_id or "")

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "subject": self.subject, "key": self.key, "value": dict(self.value),
                "observed_at": self.observed_at, "arrived_at": self.arrived_at, "event_type": self.event_type,
                "event_id": self.event_id, "hypothetical": self.arrived_at is None}


class InconsistentFact(ValueError):
    """An event whose data contradicts itself (e.g. a passed suite with failures)."""


def _data(data: Any) -> dict[str, Any]:
    return data.model_dump() if isinstance(data, BaseModel) else dict(data)


def fact_of(event_type: str, data: Any, *, event_id: str | None, arrived_at: datetime | None) -> Fact:
    """The fact an event states (data already validated against its contract)."""
    d = _data(data)
    common = {"event_type": event_type, "event_id": event_id, "arrived_at": arrived_at}
    if event_type == CI:
        if d["status"] == "passed" and d["failed"] > 0:
            raise InconsistentFact(f"suite {d['suite']} of {d['service']} is reported passed with {d['failed']} failed tests")
        return Fact("ci", d["service"], d["suite"], {"status": d["status"], "passed": d["passed"], "failed": d["failed"],
                                                     "commit": d.get("commit")}, _aware(d["reported_at"]), **common)
    if event_type == DEPLOY:
        return Fact("deploy", d["service"], d["environment"], {"version": d["version"]}, _aware(d["deployed_at"]), **common)
    if event_type == SLO:
        return Fact("slo", d["service"], d["slo"], {"met": d["met"], "window": d["window"]}, _aware(d["reported_at"]), **common)
    if event_type == DOCS:
        return Fact("docs", d["service"], "", {"endpoint_coverage": d["endpoint_coverage"], "event_coverage": d["event_coverage"],
                                               "commit": d.get("commit")}, _aware(d["reported_at"]), **common)
    if event_type == PROPOSAL:
        return Fact("proposal", d["proposal_id"], "", {"decision": d["decision"], "contract": d["contract"], "kind": d["kind"],
                                                      "breaking": d["breaking"], "decided_by": d["decided_by"]},
                    _aware(d["decided_at"]), **common)
    raise ValueError(f"no fact for event type {event_type!r}")


class Facts:
    """Latest facts, indexed by (type, subject) -> key -> fact."""

    def __init__(self, facts: Iterable[Fact] = ()) -> None:
        self._index: dict[tuple[str, str], dict[str, Fact]] = {}
        for fact in facts:
            self.add(fact)

    def add(self, fact: Fact, *, override: bool = False) -> bool:
        """Keep `fact` if it is newer than the one held (or `override`). True when kept."""
        by_key = self._index.setdefault((fact.type, fact.subject), {})
        if override or fact.newer_than(by_key.get(fact.key)):
            by_key[fact.key] = fact
            return True
        return False

    def get(self, type_: str, subject: str, key: str = "") -> Fact | None:
        return self._index.get((type_, subject), {}).get(key)

    def of(self, type_: str, subject: str) -> list[Fact]:
        by_key = self._index.get((type_, subject), {})
        return [by_key[k] for k in sorted(by_key)]

    def __len__(self) -> int:
        return sum(len(v) for v in self._index.values())

    def __iter__(self):
        return iter(sorted((f for v in self._index.values() for f in v.values()), key=lambda f: f.fact_key))

    def overlay(self, hypothetical: Iterable[Fact]) -> Facts:
        """A copy with hypothetical facts taking the place of the stored ones, whatever their time."""
        copy = Facts(self)
        for fact in hypothetical:
            copy.add(fact, override=True)
        return copy


# --- rule packs ------------------------------------------------------------------------------------------

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
PACK_FORMAT = 1  # the YAML layout version this code reads


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_age_hours: float | None = Field(default=None, gt=0, description="a fact older than this fails the gate (stale)")


class TestsGreenParams(_Params):
    suites: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        default=None, description="suites that must have passed; default: every suite reported for the service")
    min_suites: int = Field(default=1, ge=0)


class DeployedVersionParams(_Params):
    environment: Annotated[str, StringConstraints(min_length=1, max_length=200)] = "production"
    version: str | None = Field(default=None, description="exactly this version")
    min_version: str | None = Field(default=None, description="at least this semantic version")


class SloMetParams(_Params):
    slos: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = None
    min_reported: int = Field(default=1, ge=0)


class DocsCoverageParams(_Params):
    min_endpoint_coverage: float = Field(default=0.8, ge=0, le=1)
    min_event_coverage: float = Field(default=0.8, ge=0, le=1)


class ProposalApprovedParams(_Params):
    proposals: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(default_factory=list)


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug
    kind: str
    description: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> RuleSpec:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"rule {self.id}: unknown kind {self.kind!r}; known kinds: {', '.join(sorted(RULE_KINDS))}")
        RULE_KINDS[self.kind].params.model_validate(self.params)
        return self


class RulePack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = Field(description="layout version of the file")
    name: Slug
    version: int = Field(ge=1, description="content version: bump it when the rules change")
    description: str | None = None
    rules: list[RuleSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> RulePack:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule ids listed twice: {', '.join(duplicates)}")
        return self

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def rule(self, rule_id: str) -> RuleSpec | None:
        return next((r for r in self.rules if r.id == rule_id), None)


class RulePackError(ValueError):
    pass


def parse_pack(raw: Any, *, origin: str) -> RulePack:
    """A rule pack from parsed YAML; RulePackError says which file and what is wrong."""
    if isinstance(raw, Mapping) and raw.get("format") not in (None, PACK_FORMAT):
        raise RulePackError(f"{origin}: format {raw.get('format')!r} is not supported (this service reads format {PACK_FORMAT})")
    try:
        return RulePack.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "pack"
        raise RulePackError(f"{origin}: {where}: {first['msg']}") from None


def check_rule_params(pack: RulePack, overrides: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Problems with a node's overrides: unknown rule ids, invalid parameters."""
    problems = []
    for rule_id, params in sorted(overrides.items()):
        rule = pack.rule(rule_id)
        if rule is None:
            problems.append(f"rule_params.{rule_id}: {pack.label} has no rule {rule_id!r}; its rules: "
                            f"{', '.join(r.id for r in pack.rules)}")
            continue
        try:
            RULE_KINDS[rule.kind].params.model_validate({**rule.params, **params})
        except ValidationError as exc:
            first = exc.errors()[0]
            problems.append(f"rule_params.{rule_id}.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    return problems


# --- gates -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    rule: str  # the rule id in its pack, or 'dependency'
    kind: str
    subject: str  # a service, a suite, a proposal or a dependency
    passed: bool
    expected: str
    actual: str
    fact: Fact | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "kind": self.kind, "subject": self.subject, "passed": self.passed,
                "expected": self.expected, "actual": self.actual,
                "fact": self.fact.as_dict() if self.fact else None,
                "arrived_at": self.fact.arrived_at if self.fact else None}


def _age_gate(rule: str, kind: str, subject: str, params: _Params, fact: Fact, now: datetime, expected: str) -> Gate | None:
    """A failing gate when the fact is older than max_age_hours, else None."""
    if params.max_age_hours is None:
        return None
    age = now - fact.observed_at
    if age <= timedelta(hours=params.max_age_hours):
        return None
    return Gate(rule, kind, subject, False, f"{expected}, reported within {params.max_age_hours:g}h",
                f"the latest report is {age.total_seconds() / 3600:.1f}h old", fact)


def _tests_green(rule: str, params: TestsGreenParams, subject: str, facts: Facts, now: datetime) -> list[Gate]:
    reported = {f.key: f for f in facts.of("ci", subject)}
    suites = sorted(params.suites) if params.suites is not None else sorted(reported)
    gates = []
    for suite in suites:
        where = f"{subject}/{suite}"
        fact = reported.get(suite)
        if fact is None:
            gates.append(Gate(rule, "tests_green", where, False, "suite passed", "no result reported"))
            continue
        stale = _age_gate(rule, "tests_green", where, params, fact, now, "suite passed")
        if stale:
            gates.append(stale)
            continue
        v = fact.value
        actual = f"{v['status']} ({v['passed']} passed, {v['failed']} failed)"
        gates.append(Gate(rule, "tests_green", where, v["status"] == "passed", "suite passed", actual, fact))
    if len(suites) < params.min_suites:
        gates.append(Gate(rule, "tests_green", subject, False, f"at least {params.min_suites} suite result(s)",
                          f"{len(suites)} suite result(s) reported"))
    return gates


def parse_version(value: str) -> tuple[int, ...] | None:
    core = value.strip().removeprefix("v").split("+", 1)[0].split("-", 1)[0]
    parts = core.split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def _deployed_version(rule: str, params: DeployedVersionParams, subject: str, facts: Facts, now: datetime) -> list[Gate]:
    env = params.environment
    expected = f"deployed to {env}"
    if params.version:
        expected = f"version {params.version} deployed to {env}"
    elif params.min_version:
        expected = f"version >= {params.min_version} deployed to {env}"
    fact = facts.get("deploy", subject, env)
    if fact is None:
        return [Gate(rule, "deployed_version", subject, False, expected, f"no deployment to {env} reported")]
    stale = _age_gate(rule, "deployed_version", subject, params, fact, now, expected)
    if stale:
        return [stale]
    version = fact.value["version"]
    actual = f"version {version} deployed to {env}"
    passed = True
    if params.version:
        passed = version == params.version
    elif params.min_version:
        have, want = parse_version(version), parse_version(params.min_version)
        if have is None or want is None:
            return [Gate(rule, "deployed_version", subject, False, expected, f"{actual} (not comparable as versions)", fact)]
        width = max(len(have), len(want))
        passed = have + (0,) * (width - len(have)) >= want + (0,) * (width - len(want))
    return [Gate(rule, "deployed_version", subject, passed, expected, actual, fact)]


def _slo_met(rule: str, params: SloMetParams, subject: str, facts: Facts, now: datetime) -> list[Gate]:
    reported = {f.key: f for f in facts.of("slo", subject)}
    slos = sorted(params.slos) if params.slos is not None else sorted(reported)
    gates = []
    for slo in slos:
        where = f"{subject}/{slo}"
        fact = reported.get(slo)
        if fact is None:
            gates.append(Gate(rule, "slo_met", where, False, "SLO met", "no report"))
            continue
        stale = _age_gate(rule, "slo_met", where, params, fact, now, "SLO met")
        if stale:
            gates.append(stale)
            continue
        met = fact.value["met"]
        gates.append(Gate(rule, "slo_met", where, met, "SLO met", f"{'met' if met else 'missed'} over {fact.value['window']}", fact))
    if len(slos) < params.min_reported:
        gates.append(Gate(rule, "slo_met", subject, False, f"at least {params.min_reported} SLO report(s)", f"{len(slos)} reported"))
    return gates


def _docs_coverage(rule: str, params: DocsCoverageParams, subject: str, facts: Facts, now: datetime) -> list[Gate]:
    expected = f"endpoint coverage >= {params.min_endpoint_coverage:g} and event coverage >= {params.min_event_coverage:g}"
    fact = facts.get("docs", subject)
    if fact is None:
        return [Gate(rule, "docs_coverage", subject, False, expected, "no coverage reported")]
    stale = _age_gate(rule, "docs_coverage", subject, params, fact, now, expected)
    if stale:
        return [stale]
    endpoint, event = fact.value["endpoint_coverage"], fact.value["event_coverage"]
    passed = endpoint >= params.min_endpoint_coverage - 1e-12 and event >= params.min_event_coverage - 1e-12
    return [Gate(rule, "docs_coverage", subject, passed, expected, f"endpoint coverage {endpoint:g}, event coverage {event:g}", fact)]


def _proposal_approved(rule: str, params: ProposalApprovedParams, facts: Facts, now: datetime) -> list[Gate]:
    gates = []
    for proposal in sorted(params.proposals):
        fact = facts.get("proposal", proposal)
        if fact is None:
            gates.append(Gate(rule, "proposal_approved", proposal, False, "approved", "no decision yet"))
            continue
        stale = _age_gate(rule, "proposal_approved", proposal, params, fact, now, "approved")
        gates.append(stale or Gate(rule, "proposal_approved", proposal, fact.value["decision"] == "approved", "approved",
                                   f"{fact.value['decision']} by {fact.value['decided_by']}", fact))
    return gates


@dataclass(frozen=True)
class RuleKind:
    params: type[_Params]
    per_service: bool
    evaluate: Callable[..., list[Gate]]
    description: str


RULE_KINDS: dict[str, RuleKind] = {
    "tests_green": RuleKind(TestsGreenParams, True, _tests_green,
                            "the latest result of each suite of the service passed (governance.ci.result.reported.v1)"),
    "deployed_version": RuleKind(DeployedVersionParams, True, _deployed_version,
                                 "the service is deployed to an environment, optionally at a version (governance.deploy.reported.v1)"),
    "slo_met": RuleKind(SloMetParams, True, _slo_met, "the service's latest SLO reports are met (governance.slo.reported.v1)"),
    "docs_coverage": RuleKind(DocsCoverageParams, True, _docs_coverage,
                              "documentation coverage is at least a threshold (governance.docs.coverage.reported.v1)"),
    "proposal_approved": RuleKind(ProposalApprovedParams, False, _proposal_approved,
                                  "the named proposals are approved (governance.proposal.decided.v1)"),
}

# A test node's implicit rule: its own suite passed.
TEST_NODE_RULE = "suite-green"


# --- evaluation ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeStatus:
    id: str
    kind: str
    ready: bool
    rule_pack: str | None
    subjects: tuple[str, ...]
    gates: tuple[Gate, ...]
    blocked_by: tuple[str, ...]  # direct dependencies that are not ready

    @property
    def status(self) -> str:
        return "ready" if self.ready else "not_ready"

    @property
    def failing(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]

    def as_dict(self, *, all_gates: bool = True) -> dict[str, Any]:
        body = {"id": self.id, "kind": self.kind, "status": self.status, "ready": self.ready, "rule_pack": self.rule_pack,
                "subjects": list(self.subjects), "blocked_by": list(self.blocked_by),
                "failing": [g.as_dict() for g in self.failing]}
        if all_gates:
            body["gates"] = [g.as_dict() for g in self.gates]
        return body


@dataclass(frozen=True)
class Evaluator:
    """Everything evaluation needs besides the graph and the facts."""

    packs: Mapping[str, RulePack]
    default_packs: Mapping[str, str | None] = field(default_factory=lambda: {"capability": "standard"})

    def pack_of(self, node: NodeSpec) -> RulePack | None | str:
        """The node's pack, None for no pack, or a string naming a missing pack."""
        name = node.rule_pack if node.rule_pack is not None else self.default_packs.get(node.kind)
        if name is None or name == "none":
            return None
        return self.packs.get(name, name)


def subjects_of(node: NodeSpec, graph: Graph) -> tuple[str, ...]:
    """The services a node's rules are evaluated for: its own, and those of the service and
    test nodes it depends on directly."""
    found = {node.service} if node.service else set()
    for dep in node.depends_on:
        other = graph.get(dep)
        if other is not None and other.kind in ("service", "test") and other.service:
            found.add(other.service)
    return tuple(sorted(found))


def _rule_gates(rule: RuleSpec, overrides: Mapping[str, Any], subjects: Sequence[str], facts: Facts, now: datetime) -> list[Gate]:
    spec = RULE_KINDS[rule.kind]
    try:
        params = spec.params.model_validate({**rule.params, **overrides})
    except ValidationError as exc:
        return [Gate(rule.id, rule.kind, "-", False, "valid rule parameters", f"invalid parameters: {exc.errors()[0]['msg']}")]
    if not spec.per_service:
        return spec.evaluate(rule.id, params, facts, now)
    return [gate for subject in subjects for gate in spec.evaluate(rule.id, params, subject, facts, now)]


def evaluate_node(node: NodeSpec, graph: Graph, facts: Facts, evaluator: Evaluator, statuses: Mapping[str, NodeStatus],
                  now: datetime) -> NodeStatus:
    subjects = subjects_of(node, graph)
    gates: list[Gate] = []
    pack_label = None
    if node.kind == "test":
        pack_label = f"builtin:{TEST_NODE_RULE}"
        gates += _tests_green(TEST_NODE_RULE, TestsGreenParams(suites=[node.suite]), node.service or "", facts, now)
    pack = evaluator.pack_of(node)
    if isinstance(pack, str):
        gates.append(Gate("rule-pack", "rule_pack", pack, False, f"rule pack {pack} loaded",
                          f"no rule pack named {pack}; loaded: {', '.join(sorted(evaluator.packs)) or 'none'}"))
    elif pack is not None:
        pack_label = pack.label
        for rule in pack.rules:
            gates += _rule_gates(rule, node.rule_params.get(rule.id, {}), subjects, facts, now)
    blocked = []
    for dep in node.depends_on:
        status = statuses.get(dep)
        if status is None:
            gates.append(Gate("dependency", "dependency", dep, False, "ready", "unknown node"))
            blocked.append(dep)
            continue
        actual = "ready" if status.ready else f"not ready ({len(status.failing)} failing gate(s))"
        gates.append(Gate("dependency", "dependency", dep, status.ready, "ready", actual))
        if not status.ready:
            blocked.append(dep)
    return NodeStatus(id=node.id, kind=node.kind, ready=all(g.passed for g in gates), rule_pack=pack_label, subjects=subjects,
                      gates=tuple(gates), blocked_by=tuple(sorted(blocked)))


def evaluate(graph: Graph, facts: Facts, evaluator: Evaluator, *, now: datetime, targets: Iterable[str] | None = None
             ) -> dict[str, NodeStatus]:
    """Statuses of the targets and everything they depend on (of every node by default),
    dependencies first. The graph must be acyclic (it is validated on every write)."""
    deps = dependencies(graph)
    keep = set(graph) if targets is None else ancestors(deps, targets)
    order = topological_order({n: tuple(d for d in deps[n] if d in keep) for n in keep})
    statuses: dict[str, NodeStatus] = {}
    for node_id in order:
        statuses[node_id] = evaluate_node(graph[node_id], graph, facts, evaluator, statuses, now)
    return statuses


def root_causes(node_id: str, graph: Graph, statuses: Mapping[str, NodeStatus]) -> list[dict[str, Any]]:
    """The failing non-dependency gates of a node and of every not-ready node beneath it:
    what actually has to change for the node to turn ready."""
    causes = []
    for nid in sorted(ancestors(dependencies(graph), [node_id])):
        status = statuses.get(nid)
        if status is None or status.ready:
            continue
        for gate in status.failing:
            if gate.kind != "dependency" or gate.actual == "unknown node":
                causes.append({"node": nid, **gate.as_dict()})
    return causes


def summary(statuses: Mapping[str, NodeStatus]) -> dict[str, int]:
    ready = sum(1 for s in statuses.values() if s.ready)
    return {"nodes": len(statuses), "ready": ready, "not_ready": len(statuses) - ready}

