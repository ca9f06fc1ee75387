"""HTTP routes of program-graph (bearer JWT; every route works on the caller's tenant's program).

Registry (each write is one new program version; ?version=N reads history):
  POST   /v1/program/nodes                     create a node
  GET    /v1/program/nodes                     list (kind, source, version, cursor)
  GET    /v1/program/nodes/{id}                one node (?version=)
  PUT    /v1/program/nodes/{id}                create or replace (If-Match: revision)
  DELETE /v1/program/nodes/{id}                delete (409 while other nodes need it)
  GET    /v1/program/nodes/{id}/history        every revision of a node
  POST   /v1/program/import                    many nodes in one version (merge or replace)
  GET    /v1/program/versions                  the change log
Readiness and planning:
  GET    /v1/program/status/{id}               status with each failing gate explained (?version=)
  GET    /v1/program/status                    status of every capability and milestone
  POST   /v1/program/dry-run                   statuses under hypothetical facts / nodes; stores nothing
  GET    /v1/program/critical-path             CPM: critical path and slack (?target=, ?version=)
  GET    /v1/program/topology                  nodes/edges as JSON or Mermaid (?format=, ?status=)
  GET    /v1/program/facts                     the latest facts (type, subject, cursor)
  GET    /v1/program/facts/{subject}/log       every fact received about a subject, newest first
  GET    /v1/program/rule-packs                the loaded rule packs and rule kinds
Admin:
  POST   /v1/program/admin/load-summit         load Summit's own catalogue as the program
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from services.program_graph import domain, load_summit, readiness, registry, store
from services.program_graph.config import ProgramGraphSettings
from services.program_graph.domain import GraphError, NodeId, NodeSpec
from services.program_graph.readiness import FACT_EVENTS, Facts, InconsistentFact
from summit_common import tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.pagination import clamp_limit, decode_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts import REGISTRY, EventDataError

router = APIRouter(prefix="/v1/program", tags=["program-graph"])
Caller = Annotated[Principal, Depends(current_principal)]
# Planners shape the program; operators and admins too. Reads need any valid token of the tenant.
WRITE_ROLES = ("planner", "operator", "admin")
Writer = Annotated[Principal, Depends(require_role(*WRITE_ROLES))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
VersionParam = Annotated[int | None, Query(ge=1, description="a past program version; default: the current one")]


def settings_of(request: Request) -> ProgramGraphSettings:
    state = request.app.state
    if getattr(state, "program_graph", None) is None:
        state.program_graph = ProgramGraphSettings()
    return state.program_graph


def _runtime(request: Request):
    return request.app.state.runtime


# --- views ---------------------------------------------------------------------------------------------


def node_view(node: NodeSpec, revision: int | None) -> dict[str, Any]:
    body = node.model_dump(mode="json")
    body["name"] = node.display_name
    body["duration"] = node.effective_duration
    body["revision"] = revision
    return body


async def _version(conn, tenant: str, version: int | None) -> int:
    """The version to read: the current one, or a past one that exists (404 otherwise)."""
    current = await store.program_version(conn, tenant=tenant)
    if version is None:
        return current
    if version < 1 or version > current:
        raise Problem(404, "not found", f"program version {version} does not exist; the program is at version {current}")
    return version


async def _graph(request: Request, tenant: str, version: int | None) -> store.StoredGraph:
    async with _runtime(request).pool.acquire() as conn:
        return await store.load_graph(conn, tenant=tenant, version=await _version(conn, tenant, version))


async def _node_not_found(request: Request, caller: Principal, node_id: str, action: str = "read") -> Problem:
    pool = _runtime(request).pool
    async with pool.acquire() as conn:
        other = await store.other_tenant_with_node(conn, node_id=node_id, tenant=caller.tenant)
    return await tenancy.not_found(pool, caller, f"program node {node_id}", owner_tenant=other, action=action)


# --- registry ----------------------------------------------------------------------------------------------


async def _write(request: Request, caller: Principal, summary: str, mutate) -> registry.WriteResult:
    runtime = _runtime(request)
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        return await registry.write(uow.conn, tenant=caller.tenant, actor=caller.sub, summary=summary,
                                    settings=settings_of(request), mutate=mutate)


def _written(result: registry.WriteResult, node_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"program_version": result.version, "changes": [c.as_dict() for c in result.changes]}
    if node_id is not None and node_id in result.graph:
        body["node"] = node_view(result.graph[node_id], result.revisions.get(node_id))
    return body


@router.post("/nodes", status_code=201)
async def create_node(node: NodeSpec, caller: Writer, request: Request, response: Response) -> dict:
    """Create a node. 409 if the id exists; 422 for unknown dependencies, a cycle (named), or rules the pack rejects."""

    def mutate(graph: dict[str, NodeSpec], revisions) -> dict[str, NodeSpec]:
        if node.id in graph:
            raise Problem(409, "node exists", f"node {node.id} exists; PUT /v1/program/nodes/{node.id} replaces it")
        graph[node.id] = node
        return graph

    result = await _write(request, caller, f"create {node.id}", mutate)
    response.headers["Location"] = f"/v1/program/nodes/{node.id}"
    return _written(result, node.id)


@router.put("/nodes/{node_id}")
async def put_node(
    node_id: str,
    body: Annotated[dict[str, Any], Body()],
    caller: Writer,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> dict:
    """Create (201) or replace (200) a node. `If-Match: <revision>` makes it conditional (412 when stale)."""
    if body.setdefault("id", node_id) != node_id:
        raise Problem(422, "id mismatch", f"the body's id {body['id']!r} is not the path's {node_id!r}")
    try:
        node = NodeSpec.model_validate(body)
    except ValueError as exc:
        raise _validation_problem(exc) from None
    expected = _revision(if_match)
    existed = False

    def mutate(graph: dict[str, NodeSpec], revisions) -> dict[str, NodeSpec]:
        nonlocal existed
        existed = node_id in graph
        if expected is not None and revisions.get(node_id) != expected:
            raise Problem(412, "precondition failed", f"node {node_id} is at revision {revisions.get(node_id)}, not {expected}")
        graph[node_id] = node
        return graph

    result = await _write(request, caller, f"put {node_id}", mutate)
    response.status_code = 200 if existed else 201
    return _written(result, node_id)


def _revision(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Problem(400, "invalid If-Match", "If-Match takes a node revision, e.g. \"7\"")
    return int(value)


def _validation_problem(exc: ValueError) -> Problem:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        items = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in errors()[:20]]
        first = items[0]
        return Problem(422, "invalid request", f"{'.'.join(first['loc'])}: {first['msg']}", errors=items)
    return Problem(422, "invalid request", str(exc))


@router.delete("/nodes/{node_id}")
async def delete_node(node_id: str, caller: Writer, request: Request) -> dict:
    """Delete a node; 409 naming the nodes that still depend on it."""
    graph = await _graph(request, caller.tenant, None)
    if node_id not in graph.nodes:
        raise await _node_not_found(request, caller, node_id, action="delete")
    result = await _write(request, caller, f"delete {node_id}", registry.delete_nodes([node_id]))
    return {**_written(result), "deleted": node_id}


@router.get("/nodes")
async def list_nodes(
    caller: Caller,
    request: Request,
    kind: Literal["capability", "milestone", "service", "test"] | None = None,
    source: str | None = None,
    version: VersionParam = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict:
    """The program's nodes in id order, as of `version` (default: current)."""
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    graph = await _graph(request, caller.tenant, version)
    ids = [n for n, node in sorted(graph.nodes.items())
           if (kind is None or node.kind == kind) and (source is None or node.source == source) and (after is None or n > after[0])]
    page = ids[:limit]
    return {"program_version": graph.version, "items": [node_view(graph.nodes[n], graph.revisions[n]) for n in page],
            "next_cursor": encode_cursor(page[-1]) if len(ids) > limit else None}


@router.get("/nodes/{node_id}/history")
async def node_history(node_id: str, caller: Caller, request: Request) -> dict:
    """Every revision of a node: `revision` is the program version it started at, `until` the one that replaced or deleted it."""
    async with _runtime(request).pool.acquire() as conn:
        rows = await store.node_history(conn, tenant=caller.tenant, node_id=node_id)
    if not rows:
        raise await _node_not_found(request, caller, node_id)
    return {"node_id": node_id, "items": [{"revision": r["revision"], "until": r["until"], "node": node_view(r["node"], r["revision"])}
                                          for r in rows]}


@router.get("/nodes/{node_id}")
async def get_node(node_id: str, caller: Caller, request: Request, response: Response, version: VersionParam = None) -> dict:
    """One node as of `version` (default: current), with its revision (also the ETag) and its direct dependents."""
    graph = await _graph(request, caller.tenant, version)
    node = graph.nodes.get(node_id)
    if node is None:
        raise await _node_not_found(request, caller, node_id)
    response.headers["ETag"] = f'"{graph.revisions[node_id]}"'
    return {"program_version": graph.version, **node_view(node, graph.revisions[node_id]),
            "dependents": domain.dependents_of(graph.nodes, node_id)}


class ImportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nodes: list[NodeSpec] = Field(max_length=20_000)
    mode: Literal["merge", "replace"] = Field(default="merge", description="replace deletes every node not listed")


@router.post("/import")
async def import_nodes(body: ImportBody, caller: Writer, request: Request) -> dict:
    """Create or replace many nodes in one version; `replace` also deletes every node not listed."""
    ids = [n.id for n in body.nodes]
    duplicates = sorted({i for i in ids if ids.count(i) > 1}) if len(ids) != len(set(ids)) else []
    if duplicates:
        raise Problem(422, "duplicate nodes", f"listed twice: {', '.join(duplicates[:20])}")

    def mutate(graph: dict[str, NodeSpec], revisions) -> dict[str, NodeSpec]:
        after = {} if body.mode == "replace" else graph
        after.update({n.id: n for n in body.nodes})
        return after

    result = await _write(request, caller, f"import {len(body.nodes)} node(s) ({body.mode})", mutate)
    counts = {op: sum(1 for c in result.changes if c.op == op) for op in ("created", "updated", "deleted")}
    return {"program_version": result.version, **counts, "unchanged": len(body.nodes) - counts["created"] - counts["updated"]}


@router.get("/versions")
async def list_versions(caller: Caller, request: Request, cursor: str | None = None, limit: int = 50) -> dict:
    """The program's change log, newest first: who changed which nodes in each version."""
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    async with _runtime(request).pool.acquire() as conn:
        rows = await store.list_versions(conn, tenant=caller.tenant, limit=limit + 1, before=after[0] if after else None)
        current = await store.program_version(conn, tenant=caller.tenant)
    page = rows[:limit]
    return {"program_version": current, "items": page,
            "next_cursor": encode_cursor(page[-1]["version"]) if len(rows) > limit else None}


# --- readiness --------------------------------------------------------------------------------------------


async def _facts(request: Request, tenant: str) -> Facts:
    async with _runtime(request).pool.acquire() as conn:
        return Facts(await store.load_facts(conn, tenant=tenant))


def _status_document(node: NodeSpec, graph: dict[str, NodeSpec], statuses: dict, version: int, now: datetime) -> dict[str, Any]:
    status = statuses[node.id]
    return {
        "node": {"id": node.id, "kind": node.kind, "name": node.display_name},
        "program_version": version,
        "evaluated_at": now,
        **status.as_dict(),
        "root_causes": readiness.root_causes(node.id, graph, statuses),
        "beneath": readiness.summary({n: s for n, s in statuses.items() if n != node.id}),
    }


@router.get("/status/{node_id}")
async def get_status(node_id: str, caller: Caller, request: Request, version: VersionParam = None) -> dict:
    """Whether a capability or release (milestone) is ready, with every gate: rule, expected,
    actual, the fact and when it arrived. `root_causes` are the failing gates of this node and
    of every not-ready node beneath it. With `version`, the graph as of that version is judged
    with the facts known now."""
    graph = await _graph(request, caller.tenant, version)
    node = graph.nodes.get(node_id)
    if node is None:
        raise await _node_not_found(request, caller, node_id)
    facts = await _facts(request, caller.tenant)
    now = datetime.now(UTC)
    statuses = readiness.evaluate(graph.nodes, facts, registry.evaluator(settings_of(request)), now=now, targets=[node_id])
    return _status_document(node, graph.nodes, statuses, graph.version, now)


@router.get("/status")
async def list_status(
    caller: Caller,
    request: Request,
    kind: Literal["capability", "milestone", "service", "test"] | None = None,
    status: Literal["ready", "not_ready"] | None = None,
    version: VersionParam = None,
) -> dict:
    """Every capability and milestone (or every node of `kind`) with its status and failing gates."""
    graph = await _graph(request, caller.tenant, version)
    facts = await _facts(request, caller.tenant)
    now = datetime.now(UTC)
    statuses = readiness.evaluate(graph.nodes, facts, registry.evaluator(settings_of(request)), now=now)
    kinds = {kind} if kind else {"capability", "milestone"}
    items = [s.as_dict(all_gates=False) for n, s in sorted(statuses.items())
             if s.kind in kinds and (status is None or s.status == status)]
    return {"program_version": graph.version, "evaluated_at": now, "summary": readiness.summary(
        {n: s for n, s in statuses.items() if s.kind in kinds}), "items": items}


class HypotheticalFact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal[FACT_EVENTS]  # type: ignore[valid-type]
    data: dict[str, Any]


class DryRunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facts: list[HypotheticalFact] = Field(default_factory=list, max_length=5000,
                                          description="event data, as the events would carry it; they win over stored facts")
    upsert: list[NodeSpec] = Field(default_factory=list, max_length=5000, description="hypothetical nodes (added or replaced)")
    remove: list[NodeId] = Field(default_factory=list, max_length=5000)
    targets: list[NodeId] | None = Field(default=None, description="nodes to report; default: every capability and milestone")
    baseline: Literal["current", "empty"] = Field(default="current", description="start from the stored facts, or from none")
    at: datetime | None = Field(default=None, description="evaluate as of this time (fact ages); default: now")


@router.post("/dry-run")
async def dry_run(body: DryRunBody, caller: Caller, request: Request) -> dict:
    """Statuses as they would be with hypothetical facts and nodes. Nothing is stored. `changed`
    compares each reported node with its status now (current graph, stored facts)."""
    hypothetical = []
    for index, item in enumerate(body.facts):
        try:
            data = REGISTRY.get(item.type).validate(item.data)
            hypothetical.append(readiness.fact_of(item.type, data, event_id=None, arrived_at=None))
        except (EventDataError, InconsistentFact) as exc:
            raise Problem(422, "invalid fact", f"facts.{index}: {exc}", loc=["facts", index]) from None
    current = await _graph(request, caller.tenant, None)
    graph = dict(current.nodes)
    try:
        graph = registry.delete_nodes(list(body.remove))(graph, current.revisions)
        graph.update({n.id: n for n in body.upsert})
        domain.validate(graph)
    except GraphError as exc:
        raise registry.graph_problem(exc) from None
    ev = registry.evaluator(settings_of(request))
    registry.check_packs(list(body.upsert), ev)
    targets = body.targets if body.targets is not None else sorted(n for n, node in graph.items() if node.kind in ("capability", "milestone"))
    unknown = sorted(set(targets) - set(graph))
    if unknown:
        raise Problem(422, "unknown targets", f"not in the (hypothetical) program: {', '.join(unknown[:20])}", unknown=unknown)
    stored = await _facts(request, caller.tenant)
    now = body.at or datetime.now(UTC)
    base = stored if body.baseline == "current" else Facts()
    simulated = readiness.evaluate(graph, base.overlay(hypothetical), ev, now=now, targets=targets)
    today = readiness.evaluate(current.nodes, stored, ev, now=now, targets=[t for t in targets if t in current.nodes])
    changed = [{"id": t, "from": today[t].status if t in today else None, "to": simulated[t].status}
               for t in targets if t not in today or today[t].status != simulated[t].status]
    return {
        "dry_run": True,
        "program_version": current.version,
        "evaluated_at": now,
        "baseline": body.baseline,
        "hypothetical": {"facts": len(hypothetical), "upserted": sorted(n.id for n in body.upsert), "removed": sorted(body.remove)},
        "summary": readiness.summary({t: simulated[t] for t in targets}),
        "statuses": [simulated[t].as_dict(all_gates=False) for t in targets],
        "changed": changed,
    }


@router.get("/critical-path")
async def get_critical_path(caller: Caller, request: Request, target: str | None = None, version: VersionParam = None,
                            schedule: bool = True) -> dict:
    """Critical path and slack (CPM) over the dependency DAG, durations in days. With `target`,
    the path to that node; `schedule=false` leaves out the per-node figures."""
    graph = await _graph(request, caller.tenant, version)
    if target is not None and target not in graph.nodes:
        raise await _node_not_found(request, caller, target)
    result = domain.critical_path(domain.dependencies(graph.nodes), {n: s.effective_duration for n, s in graph.nodes.items()},
                                  target=target)
    return {"program_version": graph.version, **result.as_dict(include_slots=schedule),
            "path": [{"id": n, "kind": graph.nodes[n].kind, "name": graph.nodes[n].display_name,
                      "duration": graph.nodes[n].effective_duration} for n in result.critical_path]}


@router.get("/topology")
async def get_topology(caller: Caller, request: Request, format: Literal["json", "mermaid"] = "json", status: bool = False,
                       critical: bool = False, version: VersionParam = None) -> Any:
    """The program for visualisation: JSON nodes and edges (prerequisite -> dependent), or a
    Mermaid flowchart. `status=true` adds readiness; `critical=true` marks the critical path (Mermaid)."""
    graph = await _graph(request, caller.tenant, version)
    statuses = None
    if status:
        evaluated = readiness.evaluate(graph.nodes, await _facts(request, caller.tenant), registry.evaluator(settings_of(request)),
                                       now=datetime.now(UTC))
        statuses = {n: s.status for n, s in evaluated.items()}
    if format == "mermaid":
        path = domain.critical_path(domain.dependencies(graph.nodes), {n: s.effective_duration for n, s in graph.nodes.items()}
                                    ).critical_path if critical else ()
        return PlainTextResponse(domain.mermaid(graph.nodes, statuses=statuses, critical=path),
                                 headers={"X-Program-Version": str(graph.version)})
    return {"program_version": graph.version, "format": "json", **domain.topology(graph.nodes, statuses=statuses)}


@router.get("/facts")
async def list_facts(
    caller: Caller,
    request: Request,
    type: Literal["ci", "deploy", "slo", "docs", "proposal"] | None = None,
    subject: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict:
    """The latest facts of the tenant (one per type, subject and key), with when each arrived."""
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 3 or not all(isinstance(a, str) for a in after)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    async with _runtime(request).pool.acquire() as conn:
        rows = await store.list_facts(conn, tenant=caller.tenant, limit=limit + 1, after=after, fact_type=type, subject=subject)
    page = rows[:limit]
    return {"items": [f.as_dict() for f in page],
            "next_cursor": encode_cursor(*page[-1].fact_key) if len(rows) > limit else None}


@router.get("/facts/{subject}/log")
async def fact_log(subject: str, caller: Caller, request: Request, limit: int = 100) -> dict:
    """Every fact received about a subject (service or proposal), newest first, including
    ones a newer fact has since replaced."""
    limit = clamp_limit(limit)
    async with _runtime(request).pool.acquire() as conn:
        items = await store.fact_history(conn, tenant=caller.tenant, subject=subject, limit=limit)
    return {"subject": subject, "items": items}


@router.get("/rule-packs")
async def list_rule_packs(caller: Caller, request: Request) -> dict:
    """The loaded rule packs, the default pack per node kind, and the rule kinds with their parameters."""
    settings = settings_of(request)
    ev = registry.evaluator(settings)
    return {
        "defaults": settings.default_packs(),
        "packs": [pack.model_dump() | {"label": pack.label} for _, pack in sorted(ev.packs.items())],
        "rule_kinds": [{"kind": k, "description": v.description, "per_service": v.per_service, "params": v.params.model_json_schema()}
                       for k, v in sorted(readiness.RULE_KINDS.items())],
    }


# --- admin ---------------------------------------------------------------------------------------------------


@router.post("/admin/load-summit")
async def admin_load_summit(caller: Admin, request: Request) -> dict:
    """Load (or re-sync) Summit's own catalogue as the caller's tenant's program: one service
    node and one capability per service (readiness: its CI suites), dependencies from the
    event flow, and the release:summit milestone. Idempotent: a reload with no catalogue
    change creates no version."""
    from summit_common.catalog import export_catalog

    try:
        catalog = await asyncio.to_thread(export_catalog)
    except Exception as exc:  # importing every service runs their code: any error is possible
        raise Problem(503, "catalogue unavailable", f"the catalogue could not be loaded: {type(exc).__name__}: {exc}") from None
    runtime = _runtime(request)
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        return await load_summit.sync_catalog(uow.conn, tenant=caller.tenant, actor=caller.sub, settings=settings_of(request),
                                              catalog=catalog)
