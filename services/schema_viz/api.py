"""HTTP routes of schema-viz (bearer JWT; any valid token: the data is the platform's own structure,
the same for every tenant, and holds no tenant data).

POST /v1/export/diagram   source selectors + format -> diagram text (JSON, or raw with Accept)
GET  /v1/maps/knowledge   the knowledge graph as JSON (optionally a filtered / N-hop view)
GET  /v1/coverage         which registered services, events, tables, endpoints the diagrams show
GET  /v1/exports          the caller's tenant's export log (who rendered which diagram, its sha256)
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.schema_viz import ddl, domain, formats, store
from services.schema_viz.domain import MAX_HOPS, SelectionError, Selector, SourceError
from services.schema_viz.maps import PlatformMap, load
from summit_common.auth import Principal, current_principal
from summit_common.pagination import clamp_limit, decode_cursor, encode_cursor
from summit_common.problems import Problem

log = structlog.get_logger("schema_viz")
router = APIRouter(prefix="/v1", tags=["schema-viz"])
Caller = Annotated[Principal, Depends(current_principal)]

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[a-z][a-z0-9_-]*$")]
NodeId = Annotated[str, StringConstraints(min_length=3, max_length=500)]


class DiagramSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["erd", "services", "events"]
    services: list[Name] | None = Field(default=None, min_length=1, max_length=500)
    domains: list[Name] | None = Field(default=None, min_length=1, max_length=500)
    focus: NodeId | None = None
    hops: int | None = Field(default=None, ge=0, le=MAX_HOPS)
    chassis: bool = True


class DiagramRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: DiagramSource
    format: Literal["mermaid", "plantuml", "dot"]


class _MapHolder:
    """The platform map of one app, built on first use (off the event loop) and kept: its sources
    are the code and files the process was started with."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.value: PlatformMap | None = None
        self.error: Exception | None = None


async def platform_map(request: Request) -> PlatformMap:
    state = request.app.state
    holder = getattr(state, "schema_viz_map", None)
    if holder is None:
        holder = state.schema_viz_map = _MapHolder()
    if holder.value is None and holder.error is None:
        async with holder.lock:
            if holder.value is None and holder.error is None:
                started = time.perf_counter()
                try:
                    holder.value = await asyncio.to_thread(load)
                except (SourceError, ddl.DdlError) as exc:
                    holder.error = exc  # the sources do not change in this process: fail fast from now on
                    log.error("schema_viz_sources_invalid", error=str(exc))
                else:
                    graph = holder.value.graph
                    log.info("schema_viz_map_built", nodes=len(graph.nodes), edges=len(graph.edges),
                             seconds=round(time.perf_counter() - started, 3))
    if holder.error is not None:
        raise Problem(500, "platform sources cannot be read", str(holder.error))
    return holder.value


Map = Annotated[PlatformMap, Depends(platform_map)]


def _selection_problem(exc: SelectionError) -> Problem:
    return Problem(422, "invalid selector", str(exc))


def _wants_raw(request: Request, fmt: str) -> bool:
    accept = request.headers.get("accept", "").lower()
    media = formats.CONTENT_TYPES[fmt].split(";")[0]
    return media in accept or "text/plain" in accept


@router.post("/export/diagram", responses={200: {"content": {
    "application/json": {}, **{formats.CONTENT_TYPES[f].split(";")[0]: {} for f in formats.FORMATS}}}})
async def export_diagram(body: DiagramRequest, caller: Caller, request: Request, pmap: Map) -> Response:
    """A diagram of the selected sources. JSON `{text, content_type, sha256, ...}` by default; the raw
    text when `Accept` names the format's media type (or text/plain)."""
    src = body.source
    selector = Selector(kind=src.kind, services=tuple(src.services) if src.services is not None else None,
                        domains=tuple(src.domains) if src.domains is not None else None,
                        focus=src.focus, hops=src.hops, chassis=src.chassis)
    try:
        export = pmap.export(selector, body.format)
    except SelectionError as exc:
        raise _selection_problem(exc) from None
    await store.record_export(request.app.state.runtime.pool, tenant=caller.tenant, actor=caller.sub, kind=export.kind,
                              format=export.format, selector=src.model_dump(exclude_none=True), sha256=export.sha256,
                              nodes=export.nodes, edges=export.edges)
    headers = {"ETag": f'"{export.sha256}"'}
    if _wants_raw(request, body.format):
        return Response(export.text, media_type=export.content_type, headers=headers)
    payload = {"kind": export.kind, "format": export.format, "content_type": export.content_type,
               "sha256": export.sha256, "nodes": export.nodes, "edges": export.edges, "text": export.text}
    return Response(domain.json_bytes(payload), media_type="application/json", headers=headers)


@router.get("/maps/knowledge")
async def knowledge_map(
    caller: Caller,
    pmap: Map,
    services: Annotated[list[Name] | None, Query(max_length=500)] = None,
    domains: Annotated[list[Name] | None, Query(max_length=500)] = None,
    kinds: Annotated[list[Literal["endpoint", "event", "external", "service", "table"]] | None, Query()] = None,
    focus: Annotated[NodeId | None, Query()] = None,
    hops: Annotated[int | None, Query(ge=0, le=MAX_HOPS)] = None,
    chassis: bool = True,
) -> Response:
    """The knowledge graph: nodes (services, events, tables, endpoints, externals) and edges
    (produces, consumes, owns, calls, references) with stable ids, in id order."""
    selector = Selector(kind="knowledge", services=tuple(services) if services else None,
                        domains=tuple(domains) if domains else None, focus=focus, hops=hops, chassis=chassis,
                        node_kinds=tuple(kinds) if kinds else None)
    try:
        body = pmap.knowledge(selector)
    except SelectionError as exc:
        raise _selection_problem(exc) from None
    return Response(body, media_type="application/json", headers={"ETag": f'"{domain.sha256(body)}"'})


@router.get("/coverage")
async def coverage(caller: Caller, pmap: Map) -> dict:
    """Every registered service and event, and every parsed table and declared endpoint, that the
    diagrams (all three formats) and the knowledge map do not show; plus the source adapters."""
    return await asyncio.to_thread(lambda: pmap.coverage)


@router.get("/exports")
async def list_exports(caller: Caller, request: Request, limit: int = 50, cursor: str | None = None) -> dict:
    """The caller's tenant's diagram exports, newest first (provenance of rendered diagrams)."""
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    rows = await store.list_exports(request.app.state.runtime.pool, tenant=caller.tenant, limit=limit + 1,
                                    before=after[0] if after else None)
    page = rows[:limit]
    return {"items": page, "next_cursor": encode_cursor(page[-1]["id"]) if len(rows) > limit else None}
