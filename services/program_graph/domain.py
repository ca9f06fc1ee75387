"""Pure graph logic of program-graph: nodes, validation, cycles, critical path (CPM),
topology export, and the program derived from Summit's own catalogue. No I/O.

A program is a DAG of nodes (capability, milestone, service, test). `depends_on` points
from a node to the nodes it needs first; durations are in days. Readiness (rules, facts)
lives in readiness.py.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

KINDS: tuple[str, ...] = ("capability", "milestone", "service", "test")
# Milestones are points in time; services and tests are things that exist, not work: 0 days by default.
DEFAULT_DURATION: Mapping[str, float] = {"capability": 1.0, "milestone": 0.0, "service": 0.0, "test": 0.0}
MAX_DEPENDENCIES = 1000
EPSILON = 1e-9

NodeId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._:@-]{0,119}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class NodeSpec(BaseModel):
    """A node as written through the API (and stored). Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: NodeId
    kind: Literal["capability", "milestone", "service", "test"]
    name: Text | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    depends_on: tuple[NodeId, ...] = Field(default=(), max_length=MAX_DEPENDENCIES)
    duration: float | None = Field(default=None, ge=0, le=100_000, description="days; default by kind")
    service: Text | None = Field(default=None, description="the catalogue service a service/test node stands for")
    suite: Text | None = Field(default=None, description="the CI suite a test node stands for")
    rule_pack: Text | None = Field(default=None, description="a rule pack name; 'none' disables; default by kind")
    rule_params: dict[Text, dict[str, Any]] = Field(default_factory=dict, description="rule id -> parameter overrides")
    owner: Text | None = None
    source: Text | None = Field(default=None, description="who manages the node, e.g. 'catalog' for load-summit")

    @field_validator("depends_on")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted({v for v in value if value.count(v) > 1})
        if duplicates:
            raise ValueError(f"listed twice: {', '.join(duplicates)}")
        return tuple(sorted(value))

    @model_validator(mode="after")
    def _by_kind(self) -> NodeSpec:
        if self.id in self.depends_on:
            raise ValueError(f"{self.id} cannot depend on itself")
        if self.kind in ("service", "test") and not self.service:
            raise ValueError(f"a {self.kind} node needs 'service' (the catalogue service it stands for)")
        if self.kind == "test" and not self.suite:
            raise ValueError("a test node needs 'suite' (the CI suite it stands for)")
        if self.kind != "test" and self.suite:
            raise ValueError("'suite' is only for test nodes")
        return self

    @property
    def effective_duration(self) -> float:
        return DEFAULT_DURATION[self.kind] if self.duration is None else self.duration

    @property
    def display_name(self) -> str:
        return self.name or self.id

    def stored(self) -> dict[str, Any]:
        """The JSON kept in the database: only fields that are set, so defaults can evolve."""
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


Graph = Mapping[str, NodeSpec]


class GraphError(ValueError):
    """The graph is invalid; `problem` is a short machine-readable name."""

    def __init__(self, problem: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.problem = problem
        self.detail = detail


# --- structure ------------------------------------------------------------------------------------


def missing_references(graph: Graph) -> dict[str, list[str]]:
    """node -> the dependencies it names that are not in the graph."""
    missing = {}
    for node_id, node in graph.items():
        absent = [d for d in node.depends_on if d not in graph]
        if absent:
            missing[node_id] = absent
    return dict(sorted(missing.items()))


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., a] (a depends on b ...), or None. Iterative DFS in
    sorted order, so the same graph always names the same cycle. Unknown ids are ignored."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(deps, WHITE)
    for start in sorted(deps):
        if color[start] != WHITE:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(deps[start])))]
        color[start] = GREY
        on_path = [start]
        while stack:
            node, children = stack[-1]
            advanced = False
            for child in children:
                if child not in color:
                    continue
                if color[child] == GREY:
                    return on_path[on_path.index(child):] + [child]
                if color[child] == WHITE:
                    color[child] = GREY
                    on_path.append(child)
                    stack.append((child, iter(sorted(deps[child]))))
                    advanced = True
                    break
            if not advanced:
                color[node] = BLACK
                on_path.pop()
                stack.pop()
    return None


def topological_order(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Dependencies before dependents (Kahn, smallest id first among ready nodes). Raises
    GraphError('cycle') naming a cycle."""
    indegree = {n: 0 for n in deps}
    dependents: dict[str, list[str]] = {n: [] for n in deps}
    for node, needs in deps.items():
        for dep in needs:
            if dep in deps:
                indegree[node] += 1
                dependents[dep].append(node)
    ready = sorted(n for n, d in indegree.items() if d == 0)
    queue = deque(ready)
    order = []
    while queue:
        node = queue.popleft()
        order.append(node)
        for nxt in sorted(dependents[node]):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                queue.append(nxt)
    if len(order) != len(deps):
        cycle = find_cycle(deps) or []
        raise GraphError("cycle", f"dependency cycle: {' -> '.join(cycle)}", cycle=cycle)
    return order


def dependencies(graph: Graph) -> dict[str, tuple[str, ...]]:
    return {node_id: node.depends_on for node_id, node in graph.items()}


def validate(graph: Graph) -> list[str]:
    """Raise GraphError for dangling references or cycles; return the topological order."""
    missing = missing_references(graph)
    if missing:
        text = "; ".join(f"{n} depends on unknown {', '.join(m)}" for n, m in missing.items())
        raise GraphError("unknown_dependency", text, missing=missing)
    return topological_order(dependencies(graph))


def ancestors(deps: Mapping[str, Sequence[str]], targets: Iterable[str]) -> set[str]:
    """The targets and everything they depend on, transitively."""
    seen: set[str] = set()
    stack = [t for t in targets if t in deps]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(d for d in deps[node] if d in deps and d not in seen)
    return seen


def dependents_of(graph: Graph, node_id: str) -> list[str]:
    return sorted(n for n, node in graph.items() if node_id in node.depends_on)


# --- critical path ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """CPM figures of one node, in days from the start of the program."""

    duration: float
    earliest_start: float
    earliest_finish: float
    latest_start: float
    latest_finish: float

    @property
    def slack(self) -> float:
        value = self.latest_start - self.earliest_start
        return 0.0 if abs(value) < EPSILON else value

    @property
    def critical(self) -> bool:
        return self.slack == 0.0

    def as_dict(self) -> dict[str, Any]:
        r = lambda v: round(v, 6)  # noqa: E731
        return {"duration": r(self.duration), "earliest_start": r(self.earliest_start), "earliest_finish": r(self.earliest_finish),
                "latest_start": r(self.latest_start), "latest_finish": r(self.latest_finish), "slack": r(self.slack),
                "critical": self.critical}


@dataclass(frozen=True)
class Schedule:
    target: str | None
    duration: float
    critical_path: tuple[str, ...]
    slots: Mapping[str, Slot] = field(default_factory=dict)

    def as_dict(self, *, include_slots: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {"target": self.target, "duration": round(self.duration, 6), "critical_path": list(self.critical_path),
                                "nodes": len(self.slots)}
        if include_slots:
            body["schedule"] = {n: s.as_dict() for n, s in sorted(self.slots.items())}
        return body


def critical_path(deps: Mapping[str, Sequence[str]], durations: Mapping[str, float], *, target: str | None = None) -> Schedule:
    """Critical path method over the dependency DAG.

    Forward pass: ES = max EF of the dependencies (0 without), EF = ES + duration.
    Backward pass: LF = min LS of the dependents (the program's end without), LS = LF - duration.
    Slack = LS - ES; the critical path is a chain of zero-slack nodes from a start to the end,
    picked deterministically (smallest id on ties). With `target`, only the target and what
    it depends on are scheduled, and the target ends the path. Raises GraphError on a cycle.
    """
    if target is not None:
        if target not in deps:
            raise GraphError("unknown_node", f"unknown node {target}")
        keep = ancestors(deps, [target])
        deps = {n: tuple(d for d in deps[n] if d in keep) for n in keep}
    else:
        deps = {n: tuple(d for d in ds if d in deps) for n, ds in deps.items()}
    order = topological_order(deps)
    es: dict[str, float] = {}
    ef: dict[str, float] = {}
    for node in order:
        es[node] = max((ef[d] for d in deps[node]), default=0.0)
        ef[node] = es[node] + durations.get(node, 0.0)
    end = max(ef.values(), default=0.0)
    dependents: dict[str, list[str]] = {n: [] for n in deps}
    for node, needs in deps.items():
        for dep in needs:
            dependents[dep].append(node)
    lf: dict[str, float] = {}
    ls: dict[str, float] = {}
    for node in reversed(order):
        lf[node] = min((ls[d] for d in dependents[node]), default=end)
        ls[node] = lf[node] - durations.get(node, 0.0)
    slots = {n: Slot(durations.get(n, 0.0), es[n], ef[n], ls[n], lf[n]) for n in order}
    path: list[str] = []
    if order:
        if target is not None:
            current = target
        else:
            sinks = [n for n in order if not dependents[n] and abs(ef[n] - end) < EPSILON and slots[n].critical]
            current = min(sinks)
        while True:
            path.append(current)
            preds = sorted(d for d in deps[current] if slots[d].critical and abs(ef[d] - es[current]) < EPSILON)
            if not preds:
                break
            current = preds[0]
        path.reverse()
    return Schedule(target=target, duration=end, critical_path=tuple(path), slots=slots)


# --- topology export ------------------------------------------------------------------------------------


def topology(graph: Graph, *, statuses: Mapping[str, str] | None = None) -> dict[str, Any]:
    """JSON nodes and edges for visualisation. An edge goes from a prerequisite to the node
    that needs it (`required_by`), the direction work flows."""
    nodes = []
    for node_id, node in sorted(graph.items()):
        item = {"id": node_id, "kind": node.kind, "name": node.display_name, "duration": node.effective_duration}
        if statuses is not None:
            item["status"] = statuses.get(node_id, "unknown")
        nodes.append(item)
    edges = [{"from": dep, "to": node_id, "relation": "required_by"}
             for node_id, node in sorted(graph.items()) for dep in node.depends_on]
    edges.sort(key=lambda e: (e["from"], e["to"]))
    return {"nodes": nodes, "edges": edges}


_SHAPES = {"capability": ('["', '"]'), "milestone": ('{{"', '"}}'), "service": ('(["', '"])'), "test": ('[/"', '"/]')}


def mermaid_ids(node_ids: Iterable[str]) -> dict[str, str]:
    """Stable Mermaid-safe ids: non-alphanumerics become '_'; collisions get a numeric suffix."""
    taken: set[str] = set()
    ids = {}
    for node_id in sorted(node_ids):
        base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}_{n}", n + 1
        taken.add(candidate)
        ids[node_id] = candidate
    return ids


def _label(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(graph: Graph, *, statuses: Mapping[str, str] | None = None, critical: Sequence[str] = ()) -> str:
    """A Mermaid flowchart: one shape per kind, prerequisites point to what needs them;
    statuses colour nodes, critical-path edges are thick."""
    ids = mermaid_ids(graph)
    lines = ["flowchart LR"]
    if statuses is not None:
        lines += ["  classDef ready fill:#d8f5d8,stroke:#2e7d32", "  classDef not_ready fill:#fbdada,stroke:#c62828"]
    for node_id, node in sorted(graph.items()):
        left, right = _SHAPES[node.kind]
        lines.append(f"  {ids[node_id]}{left}{_label(node.display_name)}<br/>({node.kind}){right}")
    on_path = set(zip(critical, critical[1:], strict=False))
    for edge in topology(graph)["edges"]:
        arrow = "==>" if (edge["from"], edge["to"]) in on_path else "-->"
        lines.append(f"  {ids[edge['from']]} {arrow} {ids[edge['to']]}")
    if statuses is not None:
        for status in ("ready", "not_ready"):
            members = [ids[n] for n in sorted(graph) if statuses.get(n) == status]
            if members:
                lines.append(f"  class {','.join(members)} {status}")
    return "\n".join(lines) + "\n"


# --- applying changes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    op: Literal["created", "updated", "deleted"]
    node_id: str

    def as_dict(self) -> dict[str, str]:
        return {"op": self.op, "node_id": self.node_id}


def diff(before: Graph, after: Graph) -> list[Change]:
    """What changed between two versions of a graph, sorted by node id."""
    changes = []
    for node_id in sorted(set(before) | set(after)):
        if node_id not in after:
            changes.append(Change("deleted", node_id))
        elif node_id not in before:
            changes.append(Change("created", node_id))
        elif before[node_id] != after[node_id]:
            changes.append(Change("updated", node_id))
    return changes


def delete_blockers(graph: Graph, node_ids: Iterable[str]) -> dict[str, list[str]]:
    """node -> dependents that stay in the graph (a node others need cannot be deleted)."""
    leaving = set(node_ids)
    blocked = {}
    for node_id in sorted(leaving):
        staying = [d for d in dependents_of(graph, node_id) if d not in leaving]
        if staying:
            blocked[node_id] = staying
    return blocked


# --- Summit's own catalogue as a program --------------------------------------------------------------------

CATALOG_SOURCE = "catalog"
SUMMIT_RELEASE = "release:summit"
CATALOG_RULE_PACK = "ci-only"
# Planning data people add to catalogue nodes; a reload keeps it.
KEPT_ON_RELOAD = ("duration", "owner", "rule_params")


@dataclass(frozen=True)
class CatalogProgram:
    nodes: tuple[NodeSpec, ...]
    skipped_edges: tuple[dict[str, str], ...]  # capability dependencies left out because they would close a cycle


def summit_program(catalog: Mapping[str, Any]) -> CatalogProgram:
    """One service node and one capability per catalogue service, capability dependencies
    from the event flow (a consumer's capability needs its producers'), and a release
    milestone over every capability. Event loops (A consumes B's events and B A's) would
    make a cycle: such an edge is left out and reported, in sorted order, so the result is
    deterministic."""
    services = sorted(catalog.get("services") or [], key=lambda s: s["name"])
    names = {s["name"] for s in services}
    producers: dict[str, set[str]] = {}
    for event in catalog.get("events") or []:
        producers[event["type"]] = set(event.get("producers") or ())
    for s in services:
        for event_type in s.get("produces") or ():
            producers.setdefault(event_type, set()).add(s["name"])
    wanted: dict[str, set[str]] = {s["name"]: set() for s in services}
    reasons: dict[tuple[str, str], list[str]] = {}
    for s in services:
        for event_type in s.get("consumes") or ():
            for producer in producers.get(event_type, ()):
                if producer in names and producer != s["name"]:
                    wanted[s["name"]].add(producer)
                    reasons.setdefault((s["name"], producer), []).append(event_type)
    cap = lambda name: f"capability:{name}"  # noqa: E731
    deps: dict[str, list[str]] = {cap(n): [] for n in wanted}
    skipped = []
    for consumer in sorted(wanted):
        for producer in sorted(wanted[consumer]):
            if cap(consumer) in ancestors(deps, [cap(producer)]):  # the producer already needs the consumer
                skipped.append({"from": cap(consumer), "to": cap(producer),
                                "reason": f"would close a cycle (events: {', '.join(sorted(reasons[(consumer, producer)]))})"})
            else:
                deps[cap(consumer)].append(cap(producer))
    nodes: list[NodeSpec] = []
    for s in services:
        name = s["name"]
        nodes.append(NodeSpec(id=f"service:{name}", kind="service", name=name, service=name, source=CATALOG_SOURCE,
                              description=(s.get("description") or None) and s["description"][:2000]))
        nodes.append(NodeSpec(id=cap(name), kind="capability", name=name, source=CATALOG_SOURCE, rule_pack=CATALOG_RULE_PACK,
                              depends_on=tuple(sorted([f"service:{name}", *deps[cap(name)]])),
                              description=f"{name} (version {s.get('version') or 'unknown'}): ready when its test suites pass"))
    nodes.append(NodeSpec(id=SUMMIT_RELEASE, kind="milestone", name="Summit release", source=CATALOG_SOURCE,
                          depends_on=tuple(sorted(cap(s["name"]) for s in services)),
                          description="every catalogue capability is ready"))
    return CatalogProgram(nodes=tuple(nodes), skipped_edges=tuple(skipped))


@dataclass(frozen=True)
class SyncPlan:
    after: Mapping[str, NodeSpec]
    changes: tuple[Change, ...]
    kept: tuple[dict[str, Any], ...]  # catalogue nodes that left the catalogue but are still needed


def plan_sync(current: Graph, desired: Sequence[NodeSpec], *, source: str = CATALOG_SOURCE) -> SyncPlan:
    """Make the nodes of `source` match `desired`: create, update (keeping the planning data
    in KEPT_ON_RELOAD), and delete the ones no longer desired unless other nodes need them."""
    after = dict(current)
    wanted = {n.id: n for n in desired}
    for node_id, node in wanted.items():
        old = current.get(node_id)
        if old is not None and old.source == source:
            node = node.model_copy(update={k: getattr(old, k) for k in KEPT_ON_RELOAD})
        after[node_id] = node
    gone = {n for n, node in current.items() if node.source == source and n not in wanted}
    staying = [n for n in after if n not in gone]
    # A gone node that a staying node needs, directly or through other gone nodes, is kept.
    needed = ancestors(dependencies(after), staying) & gone
    for node_id in gone - needed:
        del after[node_id]
    kept = tuple({"node_id": n, "needed_by": dependents_of(after, n)} for n in sorted(needed))
    return SyncPlan(after=after, changes=tuple(diff(current, after)), kept=kept)
