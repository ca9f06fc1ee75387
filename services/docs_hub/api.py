"""HTTP routes of docs-hub (bearer JWT; everything is scoped to the caller's tenant).

  POST /v1/index:refresh                      role admin: scan the repository, version changed docs, emit coverage
  GET  /v1/docs                               ?service=&endpoint=&capability=&kind=&format=json|markdown
  GET  /v1/docs/{doc_id}                      one document: freshness, links, version history
  GET  /v1/docs/{doc_id}/versions/{version}   the text of one version
  GET  /v1/coverage                           ?service=  endpoint and event coverage of the latest refresh
  POST /v1/drift-check                        findings for a commit's diff summary, against the index
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from services.docs_hub import domain, indexer, scan, store
from services.docs_hub.config import DocsHubSettings
from summit_common import tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.logs import get_logger
from summit_common.pagination import clamp_limit, decode_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts.registry import TYPE_PATTERN

log = get_logger(component="docs-hub")
router = APIRouter(prefix="/v1", tags=["docs-hub"])
Caller = Annotated[Principal, Depends(current_principal)]
# A refresh rewrites the tenant's index and emits events: tenant admins (and platform-admin) only.
Admin = Annotated[Principal, Depends(require_role("admin"))]

CommitSha = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,64}$")]
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]


# --- settings and metrics (one per app) ----------------------------------------------------------


def hub_settings(request: Request) -> DocsHubSettings:
    state = request.app.state
    if getattr(state, "docs_hub_settings", None) is None:
        state.docs_hub_settings = DocsHubSettings()
    return state.docs_hub_settings


class HubMetrics:
    def __init__(self, registry) -> None:
        self.index_seconds = Histogram("docs_hub_index_seconds", "Time to scan and index the repository",
                                       buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=registry)
        self.coverage = Gauge("docs_hub_coverage_ratio", "Documented share of a service's endpoints or events",
                              ["service", "kind"], registry=registry)
        self.findings = Counter("docs_hub_drift_findings", "Drift findings reported (not waived)",
                                ["service", "kind"], registry=registry)


def hub_metrics(request: Request) -> HubMetrics:
    state = request.app.state
    if getattr(state, "docs_hub_metrics", None) is None:
        state.docs_hub_metrics = HubMetrics(state.runtime.metrics.registry)
    return state.docs_hub_metrics


Settings = Annotated[DocsHubSettings, Depends(hub_settings)]


# --- refresh ----------------------------------------------------------------------------------


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    commit: CommitSha | None = Field(default=None, description="the commit the checkout is at; recorded on new versions and events")


@router.post("/index:refresh")
async def refresh_index(request: Request, caller: Admin, settings: Settings, body: RefreshIn | None = None) -> dict[str, Any]:
    """Scan the repository (service READMEs, docs/adr, docs/runbooks) and the catalogue (OpenAPI and
    AsyncAPI of every service), store a new version of each document whose sha256 changed, recompute
    links and coverage, and emit governance.docs.coverage.reported.v1 per service."""
    root = settings.repo_root
    if not root.is_dir():
        raise Problem(503, "repository not available", f"DOCS_HUB_REPO_ROOT {str(root)!r} is not a directory")
    metrics = hub_metrics(request)
    started = time.perf_counter()
    found = await asyncio.to_thread(scan.scan, root)
    runtime = request.app.state.runtime
    commit = body.commit if body else None
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        summary = await indexer.refresh(uow, tenant=caller.tenant, scan=found, commit=commit, requested_by=caller.sub,
                                        at=datetime.now(UTC))
    metrics.index_seconds.observe(time.perf_counter() - started)
    for item in summary["coverage"]["services"]:
        metrics.coverage.labels(service=item["service"], kind="endpoints").set(item["endpoints"]["coverage"])
        metrics.coverage.labels(service=item["service"], kind="events").set(item["events"]["coverage"])
    log.info("docs_index_refreshed", tenant=caller.tenant, refresh_id=summary["refresh_id"], commit=commit,
             documents=summary["documents"]["seen"], versions_created=summary["versions_created"],
             problems=len(found.errors) + len(found.skipped))
    return summary


# --- queries ----------------------------------------------------------------------------------


async def _latest(conn, caller: Principal, *, with_catalogue: bool = False) -> dict[str, Any]:
    latest = await store.latest_refresh(conn, tenant=caller.tenant, with_catalogue=with_catalogue)
    if latest is None:
        raise Problem(404, "not found", "nothing is indexed for your tenant yet: POST /v1/index:refresh first")
    return latest


def _indexed(latest: dict[str, Any]) -> dict[str, Any]:
    return {"refresh_id": latest["refresh_id"], "commit": latest["commit_sha"], "indexed_at": latest["indexed_at"]}


def _after(cursor: str | None) -> tuple | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 3 or not isinstance(key[0], str) or not isinstance(key[1], int) or not isinstance(key[2], str):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    return tuple(key)


@router.get("/docs", response_model=None)
async def list_docs(
    request: Request,
    caller: Caller,
    service: Annotated[str | None, Query(description="a service name, e.g. kintell-connector")] = None,
    endpoint: Annotated[str | None, Query(description="'METHOD /path' or '/path'; any parameter spelling matches")] = None,
    capability: Annotated[str | None, Query(min_length=1, max_length=100,
                                            description="a keyword: heading word, OpenAPI tag, path or event segment")] = None,
    kind: Literal["readme", "openapi", "asyncapi", "adr", "runbook"] | None = None,
    format: Literal["json", "markdown"] = "json",
    include_content: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> Any:
    """The indexed documents matching every filter given, in (service, kind, path) order, cursor-paginated.
    `format=markdown` returns one Markdown bundle (a heading per document; next page in `X-Next-Cursor`)."""
    limit = clamp_limit(limit)
    after = _after(cursor)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        latest = await _latest(conn, caller, with_catalogue=True)
        docs = await store.documents(conn, tenant=caller.tenant)
        links = await store.links(conn, tenant=caller.tenant)
        catalogue = domain.Catalogue.from_json(latest["catalogue"])
        try:
            selection = indexer.select_docs(docs, links, catalogue, service=service, endpoint=endpoint,
                                            capability=capability, kind=kind)
        except ValueError as exc:
            raise Problem(422, "invalid endpoint", str(exc)) from None
        except LookupError as exc:
            raise Problem(404, "not found", str(exc)) from None
        selected = [d for d in selection.docs if after is None or tuple(indexer.sort_key(d)) > after]
        page, more = selected[:limit], len(selected) > limit
        next_cursor = encode_cursor(*indexer.sort_key(page[-1])) if more else None
        contents = await store.current_contents(conn, tenant=caller.tenant, doc_ids=[d.doc_id for d in page]) \
            if format == "markdown" or include_content else {}
    spec_times = indexer.spec_changed_at(docs)
    if format == "markdown":
        entries = [
            domain.BundleEntry(title=d.title, kind=d.kind, services=d.services, path=d.path, version=d.version,
                               sha256=d.sha256, last_changed_at=d.last_changed_at, last_verified_at=d.last_verified_at,
                               content=contents.get(d.doc_id, ""), stale=indexer.stale(d, spec_times))
            for d in page
        ]
        headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
        return Response(domain.render_bundle(entries), media_type="text/markdown; charset=utf-8", headers=headers)
    links_of: dict[str, list[tuple[str, str, str]]] = {}
    for doc_id, k, svc, target in links:
        links_of.setdefault(doc_id, []).append((k, svc, target))
    items = []
    for d in page:
        item = indexer.pointer(d, links_of.get(d.doc_id, []), spec_times)
        if include_content:
            item["content"] = contents.get(d.doc_id)
        items.append(item)
    return {
        "items": items,
        "next_cursor": next_cursor,
        "matched_endpoints": [{"method": r.method, "path": r.path} for r in selection.matched_endpoints] if endpoint else None,
        "indexed": _indexed(latest),
    }


async def _document(request: Request, caller: Principal, conn, doc_id: str) -> store.DocRow:
    doc = await store.document(conn, tenant=caller.tenant, doc_id=doc_id)
    if doc is None:
        owner = await store.document_owner(conn, doc_id=doc_id)
        raise await tenancy.not_found(request.app.state.runtime.pool, caller, f"document {doc_id}", owner_tenant=owner)
    return doc


@router.get("/docs/{doc_id}")
async def get_doc(doc_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    """One document: pointer, freshness (first seen, last changed, last verified, stale), links and versions."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        doc = await _document(request, caller, conn, doc_id)
        versions = await store.versions(conn, tenant=caller.tenant, doc_id=doc_id)
        links = [(k, svc, t) for d, k, svc, t in await store.links(conn, tenant=caller.tenant) if d == doc_id]
        docs = await store.documents(conn, tenant=caller.tenant)
    return {**indexer.pointer(doc, links, indexer.spec_changed_at(docs)), "removed_at": doc.removed_at, "versions": versions}


@router.get("/docs/{doc_id}/versions/{version}")
async def get_doc_version(doc_id: str, version: int, request: Request, caller: Caller) -> dict[str, Any]:
    """The stored text of one version of a document."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        await _document(request, caller, conn, doc_id)
        found = await store.version(conn, tenant=caller.tenant, doc_id=doc_id, version=version)
    if found is None:
        raise Problem(404, "not found", f"document {doc_id} has no version {version}")
    return {"doc_id": doc_id, **found}


@router.get("/coverage")
async def get_coverage(
    request: Request,
    caller: Caller,
    service: Annotated[str | None, Query(description="only this service")] = None,
) -> dict[str, Any]:
    """Share of endpoints and events with a linked human document (README, ADR, runbook), per service
    and overall, as of the latest refresh."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        latest = await _latest(conn, caller)
        rows = await store.coverage(conn, tenant=caller.tenant)
    items = [
        domain.ServiceCoverage(
            service=r["service"], endpoints_total=r["endpoints_total"], endpoints_documented=r["endpoints_documented"],
            events_total=r["events_total"], events_documented=r["events_documented"],
            undocumented_endpoints=tuple(r["undocumented"]["endpoints"]), undocumented_events=tuple(r["undocumented"]["events"]),
        )
        for r in rows
    ]
    if service is not None:
        items = [c for c in items if c.service == service]
        if not items:
            raise Problem(404, "not found", f"service {service!r} is not in the index")
    return {"indexed": _indexed(latest), "overall": domain.totals(items).as_dict(), "services": [c.as_dict() for c in items]}


# --- drift check ------------------------------------------------------------------------------


class ChangedFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    change: Literal["added", "modified", "deleted"]

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("./"):
            value = value[2:]
        if value.startswith("/") or "\\" in value or re.match(r"^[A-Za-z]:", value):
            raise ValueError("must be a path relative to the repository root, with '/' separators")
        if any(part in ("", ".", "..") for part in value.split("/")):
            raise ValueError("must not contain empty, '.' or '..' segments")
        return value


class SpecChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["endpoint", "event"]
    ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] = Field(
        description="'METHOD /path' for an endpoint, the event type for an event")
    change: Literal["added", "removed", "modified"]
    service: ServiceName | None = Field(default=None, description="required for endpoints; for events default: owner/producers")

    @model_validator(mode="after")
    def _ref_shape(self) -> SpecChangeIn:
        if self.kind == "endpoint":
            method, _ = domain.parse_endpoint(self.ref)
            if method is None:
                raise ValueError("an endpoint ref must be 'METHOD /path'")
            if self.service is None:
                raise ValueError("an endpoint spec change needs its service")
        elif not TYPE_PATTERN.match(self.ref):
            raise ValueError("an event ref must be an event type <domain>.<entity>.<action>.v<major>")
        return self


class WaiverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: ServiceName | None = None
    kind: domain.FindingKind | None = None
    path: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(default=None, description="a glob")
    reason: Annotated[str, StringConstraints(max_length=500)] = ""

    @model_validator(mode="after")
    def _something(self) -> WaiverIn:
        if self.service is None and self.kind is None and self.path is None:
            raise ValueError("an allowlist entry needs a service, a kind or a path")
        return self


class DriftCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    commit: CommitSha
    message: Annotated[str, StringConstraints(max_length=20_000)] | None = Field(
        default=None, description="the commit message: only its `Docs-Drift: skip|refactor` trailer is read; never stored")
    branch: Annotated[str, StringConstraints(max_length=200)] | None = None
    author: Annotated[str, StringConstraints(max_length=200)] | None = None
    changed_files: list[ChangedFileIn] = Field(default_factory=list, max_length=5000)
    spec_changes: list[SpecChangeIn] = Field(default_factory=list, max_length=1000)
    allowlist: list[WaiverIn] = Field(default_factory=list, max_length=200)
    scope: Literal["changed", "all"] = "changed"

    @model_validator(mode="after")
    def _one_change_per_path(self) -> DriftCheckIn:
        seen: dict[str, str] = {}
        for f in self.changed_files:
            if seen.setdefault(f.path, f.change) != f.change:
                raise ValueError(f"changed_files lists {f.path!r} twice with different changes")
        return self


@router.post("/drift-check")
async def drift_check(body: DriftCheckIn, request: Request, caller: Caller) -> dict[str, Any]:
    """Drift findings for one commit: its changed files (and optional spec changes) against the
    documents and catalogue of the latest refresh. Stores nothing; `passed` is false when an
    error finding is not waived."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        latest = await _latest(conn, caller, with_catalogue=True)
        docs = await store.documents(conn, tenant=caller.tenant)
        contents = await store.current_contents(conn, tenant=caller.tenant,
                                                doc_ids=[d.doc_id for d in docs if d.kind in domain.HUMAN_KINDS])
    catalogue = domain.Catalogue.from_json(latest["catalogue"])
    sources = [
        domain.SourceDoc(key=d.doc_key, kind=d.kind, title=d.title, content=contents.get(d.doc_id, ""),
                         services=d.services, path=d.path)
        for d in docs if d.kind in domain.HUMAN_KINDS
    ]
    result = domain.drift_check(
        catalogue=catalogue,
        docs=sources,
        changed=[domain.ChangedFile(f.path, f.change) for f in body.changed_files],
        spec_changes=[domain.SpecChange(kind=c.kind, ref=c.ref, change=c.change, service=c.service) for c in body.spec_changes],
        message=body.message,
        waivers=[domain.Waiver(service=w.service, kind=w.kind, path=w.path, reason=w.reason) for w in body.allowlist],
        scope=body.scope,
    )
    metrics = hub_metrics(request)
    for f in result.findings:
        if not f.waived:
            metrics.findings.labels(service=f.service or "-", kind=f.kind).inc()
    counts = result.counts()
    log.info("docs_drift_checked", tenant=caller.tenant, commit=body.commit, passed=result.passed, **counts)
    return {
        "commit": body.commit,
        "branch": body.branch,
        "passed": result.passed,
        "counts": counts,
        "touched_services": list(result.touched_services),
        "findings": [f.as_dict() for f in result.findings],
        "indexed": _indexed(latest),
    }
