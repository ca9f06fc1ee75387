"""The internal graph model of schema-viz and everything pure around it: building the graph from
the platform's sources (catalogue, parsed migrations, route tables, call declarations), selecting
views (diagram kind, services, domains, N hops around a focus node), the knowledge-map JSON, and
the coverage report. No I/O: `sources.py` reads files and the live catalogue.

Stable ids (the contract of GET /v1/maps/knowledge):

  service:<name>                      a service (registered, or named by an event owner / a route
                                      table / a call declaration without being registered)
  external:<name>                     a system outside the platform named by a call declaration
  event:<type>                        an event type of the catalogue
  table:<schema>.<table>              a table of a service's schema (the chassis tables included)
  endpoint:<service>:<METHOD>:<path>  an HTTP operation of a service

  <kind>:<source>-><target>           edges: produces, consumes, owns, calls
  references:<source>-><target>#<constraint>   foreign keys (one per constraint)
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.schema_viz import ddl

GRAPH_VERSION = 1
DiagramKind = Literal["erd", "services", "events"]
DIAGRAM_KINDS: tuple[str, ...] = ("erd", "services", "events")
NODE_KINDS: tuple[str, ...] = ("endpoint", "event", "external", "service", "table")
EDGE_KINDS: tuple[str, ...] = ("calls", "consumes", "owns", "produces", "references")
MAX_HOPS = 20

# Which nodes and edges each diagram kind draws (the knowledge map has them all).
VIEWS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "erd": (frozenset({"table"}), frozenset({"references"})),
    "services": (frozenset({"service", "external"}), frozenset({"calls"})),
    "events": (frozenset({"service", "event"}), frozenset({"produces", "consumes"})),
    "knowledge": (frozenset(NODE_KINDS), frozenset(EDGE_KINDS)),
}


class SourceError(ValueError):
    """A source is inconsistent or malformed (the message says which and why)."""


class SelectionError(ValueError):
    """A selector names something that is not there (becomes a 422 over HTTP)."""


# --- the catalogue, as schema-viz reads it (the schema-source contract) -----------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class CatalogEvent(_Frozen):
    type: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    major: int = Field(ge=1)
    owner: str = Field(min_length=1)
    description: str = ""
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()


class CatalogRoute(_Frozen):
    path: str = Field(min_length=1)
    methods: tuple[str, ...] = Field(min_length=1)
    name: str = ""


class CatalogService(_Frozen):
    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9-]*$")
    description: str = ""
    version: str = ""
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    http: tuple[CatalogRoute, ...] = ()
    migrations: tuple[str, ...] = ()

    @property
    def schema(self) -> str:
        return self.name.replace("-", "_")


class Catalog(_Frozen):
    catalog_version: int = 1
    events: tuple[CatalogEvent, ...]
    services: tuple[CatalogService, ...]

    @field_validator("catalog_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"catalogue version {value} is not supported (schema-viz reads version 1)")
        return value


def parse_catalog(doc: Any) -> Catalog:
    """Validate an `export_catalog()` document; a changed upstream shape fails here, loudly."""
    try:
        catalog = Catalog.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SourceError(f"catalogue: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    names = [s.name for s in catalog.services]
    if len(set(names)) != len(names):
        raise SourceError("catalogue: a service name appears twice")
    types = [e.type for e in catalog.events]
    if len(set(types)) != len(types):
        raise SourceError("catalogue: an event type appears twice")
    known = set(types)
    for service in catalog.services:
        unknown = sorted({*service.consumes, *service.produces} - known)
        if unknown:
            raise SourceError(f"catalogue: service {service.name} names unknown event types {', '.join(unknown)}")
    return catalog


# --- HTTP call declarations -------------------------------------------------------------------


class RouteTableDecl(_Frozen):
    model_config = ConfigDict(extra="forbid", frozen=True)
    service: str = Field(min_length=1)
    file: str = Field(min_length=1)


class CallDecl(_Frozen):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    caller: str = Field(min_length=1, alias="from")
    callee: str = Field(min_length=1, alias="to")
    what: str = Field(min_length=1)
    why: str = ""


class CallsDoc(_Frozen):
    model_config = ConfigDict(extra="forbid", frozen=True)
    route_tables: tuple[RouteTableDecl, ...] = ()
    calls: tuple[CallDecl, ...] = ()


def parse_calls_doc(doc: Any, *, location: str = "calls.yaml") -> CallsDoc:
    try:
        return CallsDoc.model_validate(doc or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SourceError(f"{location}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


@dataclass(frozen=True)
class RouteTable:
    """A gateway route table (routes: [{prefix, service, rewrite?}, ...]); doc None = file absent."""

    service: str
    location: str
    doc: Any | None


def calls_from_route_table(table: RouteTable) -> list[tuple[str, str, str]]:
    """(caller, callee, what) per route: the table's service proxies `prefix` to `service`."""
    if table.doc is None:
        return []
    routes = table.doc.get("routes") if isinstance(table.doc, Mapping) else None
    if not isinstance(routes, list):
        raise SourceError(f"{table.location}: expected a mapping with a 'routes' list")
    out = []
    for n, route in enumerate(routes):
        if not isinstance(route, Mapping) or not isinstance(route.get("prefix"), str) or not isinstance(route.get("service"), str):
            raise SourceError(f"{table.location}: routes[{n}] needs string 'prefix' and 'service'")
        rewrite = route.get("rewrite") or "/v1"
        out.append((table.service, route["service"], f"{route['prefix']} -> {rewrite}"))
    return out


# --- sources and the graph --------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """Everything the graph is built from, as plain data (see sources.py for the adapters)."""

    catalog: Catalog
    migrations: Mapping[str, Sequence[tuple[str, str]]]  # service name -> (file name, sql)
    chassis: Sequence[tuple[str, str]]
    route_tables: Sequence[RouteTable] = ()
    calls: Sequence[CallDecl] = ()
    locations: Mapping[str, str] = field(default_factory=dict)  # adapter -> where it read from


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    label: str
    group: str | None = None       # the cluster a diagram draws it in (service of a table, domain of an event)
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "group": self.group, "attrs": self.attrs}


@dataclass(frozen=True)
class Edge:
    id: str
    kind: str
    source: str
    target: str
    label: str = ""
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "source": self.source, "target": self.target,
                "label": self.label, "attrs": self.attrs}


class Graph:
    """Nodes and edges, always in id order (so everything derived from it is deterministic)."""

    def __init__(self, nodes: Iterable[Node], edges: Iterable[Edge]) -> None:
        self.nodes: dict[str, Node] = {n.id: n for n in sorted(nodes, key=lambda n: n.id)}
        self.edges: list[Edge] = sorted(edges, key=lambda e: e.id)
        missing = {e.source for e in self.edges} | {e.target for e in self.edges}
        missing -= self.nodes.keys()
        if missing:
            raise ValueError(f"edges point at unknown nodes: {', '.join(sorted(missing)[:5])}")
        self._adjacency: dict[str, list[str]] | None = None

    def __len__(self) -> int:
        return len(self.nodes)

    def adjacency(self) -> dict[str, list[str]]:
        """Undirected neighbours of every node (sorted, without duplicates)."""
        if self._adjacency is None:
            adj: dict[str, set[str]] = {n: set() for n in self.nodes}
            for e in self.edges:
                adj[e.source].add(e.target)
                adj[e.target].add(e.source)
            self._adjacency = {n: sorted(v) for n, v in adj.items()}
        return self._adjacency

    def subgraph(self, keep: Iterable[str], *, edge_kinds: frozenset[str] | None = None) -> Graph:
        keep = set(keep)
        return Graph((n for i, n in self.nodes.items() if i in keep),
                     (e for e in self.edges if e.source in keep and e.target in keep
                      and (edge_kinds is None or e.kind in edge_kinds)))

    def of_kind(self, *kinds: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind in kinds]


def service_id(name: str) -> str:
    return f"service:{name}"


def event_id(type_: str) -> str:
    return f"event:{type_}"


def table_id(schema: str, table: str) -> str:
    return f"table:{schema}.{table}"


def endpoint_id(service: str, method: str, path: str) -> str:
    return f"endpoint:{service}:{method.upper()}:{path}"


def external_id(name: str) -> str:
    return f"external:{name}"


def _edge(kind: str, source: str, target: str, label: str = "", attrs: Mapping[str, Any] | None = None,
          suffix: str = "") -> Edge:
    return Edge(id=f"{kind}:{source}->{target}{suffix}", kind=kind, source=source, target=target, label=label,
                attrs=attrs or {})


def _table_attrs(service: str, schema: str, table: ddl.Table) -> dict[str, Any]:
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    unique_single = {cols[0] for _, cols in table.uniques if len(cols) == 1}
    return {
        "service": service,
        "schema": schema,
        "origin": table.origin,
        "comment": table.comment,
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "nullable": c.nullable,
                "default": c.default,
                "generated": c.generated,
                "primary_key": c.name in table.primary_key,
                "foreign_key": c.name in fk_columns,
                "unique": c.name in unique_single,
                "comment": table.column_comments.get(c.name),
            }
            for c in table.columns
        ],
        "primary_key": list(table.primary_key),
        "unique": [{"name": n, "columns": list(cols)} for n, cols in sorted(table.uniques)],
        "foreign_keys": [
            {"name": f.name, "columns": list(f.columns), "references": table_id(schema, f.ref_table),
             "ref_columns": list(f.ref_columns), "on_delete": f.on_delete, "on_update": f.on_update,
             "deferrable": f.deferrable}
            for f in sorted(table.foreign_keys, key=lambda f: f.name)
        ],
        "checks": [{"name": n, "expression": e} for n, e in sorted(table.checks)],
        "indexes": [
            {"name": i.name, "elements": list(i.elements), "unique": i.unique, "method": i.method,
             "where": i.where, "include": list(i.include)}
            for i in sorted(table.indexes, key=lambda i: i.name)
        ],
        "triggers": sorted(table.triggers),
    }


def parse_service_schema(service: str, chassis: Sequence[tuple[str, str]],
                         files: Sequence[tuple[str, str]]) -> ddl.Schema:
    """The chassis migrations, then the service's, in file-name order (as the runtime applies them)."""
    schema = ddl.apply_migrations(sorted(chassis), origin="chassis")
    try:
        return ddl.apply_migrations(sorted(files), schema=schema)
    except ddl.DdlError as exc:
        raise ddl.DdlError(f"service {service}: {exc}") from None


def build_graph(sources: Sources) -> tuple[Graph, list[str]]:
    """The knowledge graph of the platform, and warnings (names that are not registered services).

    Raises SourceError / ddl.DdlError on inconsistent sources or unsupported SQL."""
    catalog = sources.catalog
    registered = {s.name: s for s in catalog.services}
    nodes: dict[str, Node] = {}
    edges: dict[str, Edge] = {}
    warnings: list[str] = []

    def add_edge(edge: Edge) -> None:
        edges.setdefault(edge.id, edge)

    for s in catalog.services:
        nodes[service_id(s.name)] = Node(
            service_id(s.name), "service", s.name,
            attrs={"registered": True, "description": s.description, "version": s.version, "schema": s.schema,
                   "migrations": sorted(s.migrations)})

    def ensure_service(name: str, why: str) -> str:
        sid = service_id(name)
        if sid not in nodes:
            nodes[sid] = Node(sid, "service", name, attrs={"registered": False})
            warnings.append(f"{name} is not a registered service ({why})")
        return sid

    # events: owner, producers, consumers
    for e in catalog.events:
        eid = event_id(e.type)
        props = e.json_schema.get("properties") if isinstance(e.json_schema, Mapping) else None
        nodes[eid] = Node(eid, "event", e.type, group=e.domain, attrs={
            "domain": e.domain, "major": e.major, "owner": e.owner, "description": e.description,
            "fields": sorted(props) if isinstance(props, Mapping) else [],
            "required": sorted(e.json_schema.get("required", [])) if isinstance(e.json_schema, Mapping) else [],
        })
        add_edge(_edge("owns", ensure_service(e.owner, f"owner of {e.type}"), eid))
        for p in {*e.producers, e.owner}:
            add_edge(_edge("produces", ensure_service(p, f"producer of {e.type}"), eid))
        for c in e.consumers:
            add_edge(_edge("consumes", ensure_service(c, f"consumer of {e.type}"), eid))
    for s in catalog.services:  # the services' own lists agree with the events' (union, in case)
        for t in s.produces:
            add_edge(_edge("produces", service_id(s.name), event_id(t)))
        for t in s.consumes:
            add_edge(_edge("consumes", service_id(s.name), event_id(t)))

    # endpoints
    for s in catalog.services:
        for route in s.http:
            for method in route.methods:
                nid = endpoint_id(s.name, method, route.path)
                nodes[nid] = Node(nid, "endpoint", f"{method.upper()} {route.path}", group=s.name,
                                  attrs={"service": s.name, "method": method.upper(), "path": route.path,
                                         "name": route.name})
                add_edge(_edge("owns", service_id(s.name), nid))

    # tables, from the migrations
    for s in catalog.services:
        files = list(sources.migrations.get(s.name, ()))
        read = {name for name, _ in files}
        unread = sorted(set(s.migrations) - read)
        if unread:
            raise SourceError(f"service {s.name}: the catalogue lists migrations {', '.join(unread)} "
                              "that were not found")
        schema = parse_service_schema(s.name, sources.chassis, files)
        for table in schema.tables.values():
            tid = table_id(s.schema, table.name)
            nodes[tid] = Node(tid, "table", f"{s.schema}.{table.name}", group=s.name,
                              attrs=_table_attrs(s.name, s.schema, table))
            add_edge(_edge("owns", service_id(s.name), tid))
        for table in schema.tables.values():
            for fk in table.foreign_keys:
                label = ", ".join(fk.columns)
                add_edge(_edge("references", table_id(s.schema, table.name), table_id(s.schema, fk.ref_table),
                               label, {"constraint": fk.name, "columns": list(fk.columns),
                                       "ref_columns": list(fk.ref_columns)}, suffix=f"#{fk.name}"))
    extra = sorted(set(sources.migrations) - set(registered))
    if extra:
        raise SourceError(f"migrations given for services not in the catalogue: {', '.join(extra)}")

    # HTTP calls: route tables (data) and the static declarations
    calls: dict[tuple[str, str], dict[str, set[str]]] = {}

    def add_call(caller: str, callee: str, what: str, source: str) -> None:
        entry = calls.setdefault((caller, callee), {"via": set(), "sources": set()})
        entry["via"].add(what)
        entry["sources"].add(source)

    for table in sources.route_tables:
        for caller, callee, what in calls_from_route_table(table):
            add_call(ensure_service(caller, f"route table {table.location}"),
                     ensure_service(callee, f"route in {table.location}"), what, f"routes:{table.location}")
    for decl in sources.calls:
        caller = ensure_service(decl.caller, "caller in the call declarations")
        if decl.callee == "*":
            targets = [service_id(name) for name in sorted(registered) if name != decl.caller]
        elif decl.callee.startswith("external:"):
            name = decl.callee.removeprefix("external:")
            if not name:
                raise SourceError("call declarations: 'external:' needs a name")
            targets = [external_id(name)]
            nodes.setdefault(targets[0], Node(targets[0], "external", name, attrs={"registered": False}))
        else:
            targets = [ensure_service(decl.callee, "callee in the call declarations")]
        for target in targets:
            add_call(caller, target, decl.what, "static")
    for (caller, callee), entry in calls.items():
        via = sorted(entry["via"])
        add_edge(_edge("calls", caller, callee, "\n".join(via), {"via": via, "sources": sorted(entry["sources"])}))

    return Graph(nodes.values(), edges.values()), sorted(set(warnings))


# --- selection --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selector:
    kind: str                                  # erd | services | events | knowledge
    services: tuple[str, ...] | None = None
    domains: tuple[str, ...] | None = None
    focus: str | None = None
    hops: int | None = None
    chassis: bool = True
    node_kinds: tuple[str, ...] | None = None  # knowledge map only


def _close(name: str, known: Iterable[str]) -> str:
    import difflib

    matches = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(matches)}?)" if matches else ""


def select(graph: Graph, sel: Selector) -> Graph:
    """The view a selector asks for. Raises SelectionError naming what is wrong."""
    if sel.kind not in VIEWS:
        raise SelectionError(f"unknown kind {sel.kind!r}; kinds: {', '.join(sorted(VIEWS))}")
    node_kinds, edge_kinds = VIEWS[sel.kind]
    if sel.node_kinds is not None:
        if sel.kind != "knowledge":
            raise SelectionError("node kinds can only be chosen for the knowledge map")
        unknown = sorted(set(sel.node_kinds) - set(NODE_KINDS))
        if unknown:
            raise SelectionError(f"unknown node kinds {', '.join(unknown)}; kinds: {', '.join(NODE_KINDS)}")
        node_kinds = frozenset(sel.node_kinds)
    if sel.hops is not None and sel.focus is None:
        raise SelectionError("hops needs a focus node id")
    if sel.hops is not None and not 0 <= sel.hops <= MAX_HOPS:
        raise SelectionError(f"hops must be between 0 and {MAX_HOPS}")
    if sel.domains is not None and sel.kind not in ("events", "knowledge"):
        raise SelectionError("domains select events: use them with kind 'events' (or the knowledge map)")

    keep = set(graph.nodes)
    if sel.services is not None:
        known = {n.label for n in graph.of_kind("service")}
        unknown = sorted(set(sel.services) - known)
        if unknown:
            raise SelectionError(f"unknown services {', '.join(unknown)}{_close(unknown[0], known)}; "
                                 f"known: {', '.join(sorted(known))}")
        chosen = {service_id(s) for s in sel.services}
        keep = set(chosen)
        for e in graph.edges:  # what the chosen services own, produce, consume or call (not other services)
            if e.source in chosen and e.kind in ("owns", "produces", "consumes", "calls"):
                if graph.nodes[e.target].kind != "service":
                    keep.add(e.target)
    if sel.domains is not None:
        known = {n.attrs["domain"] for n in graph.of_kind("event")}
        unknown = sorted(set(sel.domains) - known)
        if unknown:
            raise SelectionError(f"unknown domains {', '.join(unknown)}{_close(unknown[0], known)}; "
                                 f"known: {', '.join(sorted(known))}")
        wanted = set(sel.domains)
        keep = {n for n in keep if graph.nodes[n].kind != "event" or graph.nodes[n].attrs["domain"] in wanted}
    if not sel.chassis:
        keep = {n for n in keep if graph.nodes[n].kind != "table" or graph.nodes[n].attrs["origin"] != "chassis"}
    keep = {n for n in keep if graph.nodes[n].kind in node_kinds}
    view = graph.subgraph(keep, edge_kinds=edge_kinds)
    if sel.domains is not None and sel.kind == "events":
        # services that have no event left in the chosen domains are noise in an event-flow diagram
        linked = {e.source for e in view.edges} | {e.target for e in view.edges}
        view = view.subgraph(n for n in view.nodes if view.nodes[n].kind != "service" or n in linked)
    if sel.focus is not None:
        if sel.focus not in view.nodes:
            where = "the graph" if sel.focus not in graph.nodes else f"this {sel.kind} view"
            raise SelectionError(f"focus node {sel.focus!r} is not in {where}{_close(sel.focus, view.nodes)}; "
                                 "ids look like service:<name>, event:<type>, table:<schema>.<table>")
        view = view.subgraph(neighbourhood(view, sel.focus, 1 if sel.hops is None else sel.hops))
    return view


def neighbourhood(graph: Graph, focus: str, hops: int) -> set[str]:
    """Nodes within `hops` edges of `focus`, ignoring edge direction (breadth-first)."""
    adj = graph.adjacency()
    seen = {focus}
    frontier = deque([(focus, 0)])
    while frontier:
        node, depth = frontier.popleft()
        if depth == hops:
            continue
        for nxt in adj[node]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append((nxt, depth + 1))
    return seen


# --- knowledge map ----------------------------------------------------------------------------


def knowledge_map(view: Graph) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for n in view.nodes.values():
        counts[n.kind] = counts.get(n.kind, 0) + 1
    edge_counts: dict[str, int] = {}
    for e in view.edges:
        edge_counts[e.kind] = edge_counts.get(e.kind, 0) + 1
    return {
        "graph_version": GRAPH_VERSION,
        "counts": {"nodes": dict(sorted(counts.items())), "edges": dict(sorted(edge_counts.items()))},
        "nodes": [n.as_json() for n in view.nodes.values()],
        "edges": [e.as_json() for e in view.edges],
    }


def json_bytes(doc: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, fixed separators (byte-identical for equal documents)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def knowledge_map_json(view: Graph) -> bytes:
    return json_bytes(knowledge_map(view))


# --- coverage ---------------------------------------------------------------------------------


def coverage(graph: Graph, catalog: Catalog, rendered: Mapping[tuple[str, str], Any],
             *, sources: Sequence[Mapping[str, Any]] = (), warnings: Sequence[str] = ()) -> dict[str, Any]:
    """Which registered services, events, tables and endpoints the full diagrams show, and which not.

    `rendered` maps (kind, format) to a formats.Rendered of the unfiltered view. A node counts as
    shown in a diagram when its identifier appears in the text of every format of that diagram.
    A service counts as shown in the ERD when its schema's tables are there (the chassis tables
    give every service at least three)."""
    def shown(kind: str, node_ids: Iterable[str]) -> set[str]:
        present = None
        for (k, _fmt), out in rendered.items():
            if k != kind:
                continue
            here = {n for n in node_ids if out.shows(n)}
            present = here if present is None else present & here
        return present or set()

    services = sorted(s.name for s in catalog.services)
    events = sorted(e.type for e in catalog.events)
    tables = sorted(n.id for n in graph.of_kind("table"))
    endpoints = sorted(n.id for n in graph.of_kind("endpoint"))
    sids = [service_id(s) for s in services]

    tables_shown = shown("erd", tables)
    services_in_erd = {graph.nodes[t].attrs["service"] for t in tables_shown}
    in_services, in_events = shown("services", sids), shown("events", sids)
    events_shown = shown("events", [event_id(t) for t in events])
    missing = {
        "services": {
            "erd": [s for s in services if s not in services_in_erd],
            "services": [s for s, i in zip(services, sids, strict=True) if i not in in_services],
            "events": [s for s, i in zip(services, sids, strict=True) if i not in in_events],
            "knowledge": [s for s, i in zip(services, sids, strict=True) if i not in graph.nodes],
        },
        "events": {
            "events": [t for t in events if event_id(t) not in events_shown],
            "knowledge": [t for t in events if event_id(t) not in graph.nodes],
        },
        "tables": {"erd": [graph.nodes[t].label for t in tables if t not in tables_shown]},
        "endpoints": {"knowledge": [e for e in sorted(
            endpoint_id(s.name, m, r.path) for s in catalog.services for r in s.http for m in r.methods
        ) if e not in graph.nodes]},
    }
    complete = not any(v for group in missing.values() for v in group.values())
    return {
        "complete": complete,
        "formats": sorted({fmt for _, fmt in rendered}),
        "services": {"registered": len(services), "missing": missing["services"]},
        "events": {"registered": len(events), "missing": missing["events"]},
        "tables": {"parsed": len(tables), "missing": missing["tables"]},
        "endpoints": {"declared": len(endpoints), "missing": missing["endpoints"]},
        "unregistered_services": sorted(n.label for n in graph.of_kind("service") if not n.attrs.get("registered")),
        "warnings": list(warnings),
        "sources": list(sources),
    }

