"""HTTP routes of blast-radius (bearer JWT, scoped to the caller's tenant).

POST /v1/impact/assess            assess a change bundle; stores it and emits governance.readiness.signaled.v1
                                  (?dry_run=true: the same answer, nothing stored or emitted)
GET  /v1/impact/{assessment_id}   a stored assessment (?format=text: the human summary)
GET  /v1/impact                   the tenant's assessments, newest first (cursor, ready, kind, affects)
GET  /v1/impact/stats             counts and the most often affected nodes (dashboard data)
GET  /v1/impact/analyzers         the change kinds this deployment understands, with their input schema
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import Counter

from services.blast_radius import analyzers, domain, store
from services.blast_radius.catalog import CatalogSource, CatalogUnavailable
from services.blast_radius.config import BlastRadiusSettings
from summit_common import tenancy
from summit_common.auth import Principal, current_principal
from summit_common.pagination import clamp_limit, decode_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts import new_id

router = APIRouter(prefix="/v1", tags=["blast-radius"])
Caller = Annotated[Principal, Depends(current_principal)]

# Assessing for real emits a deploy-gate signal: CI, governance services and operators.
# A dry run changes nothing: any valid token of the tenant.
ASSESS_ROLES = ("ci", "governance", "operator", "admin")


class _Context:
    def __init__(self, registry) -> None:
        self.settings = BlastRadiusSettings()
        self.catalog = CatalogSource(self.settings)
        # On the service's own /metrics registry: alert on rejected bundles and unknown change kinds.
        self.assessments = Counter("blast_radius_assessments", "Assessments stored", ["change_kind", "ready"], registry=registry).labels
        self.rejected = Counter("blast_radius_bundles_rejected", "Bundles that could not be assessed (422)", registry=registry)
        self.unknown_changes = Counter("blast_radius_unknown_change_kinds", "Schema changes of a kind the analyzers do not know",
                                       registry=registry)


def context(request: Request) -> _Context:
    """Settings, the catalogue and metrics, created on first use per app (tests run several apps in one process)."""
    state = request.app.state
    if getattr(state, "blast_radius", None) is None:
        state.blast_radius = _Context(state.runtime.metrics.registry)
    return state.blast_radius


def _bundle_problem(exc: analyzers.BundleError) -> Problem:
    return Problem(422, "invalid change bundle", str(exc), errors=[{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]}
                                                                  for e in exc.errors])


async def _graph(ctx: _Context) -> domain.CatalogGraph:
    try:
        return await ctx.catalog.graph()
    except CatalogUnavailable as exc:
        raise Problem(503, "catalogue unavailable", str(exc), headers={"Retry-After": "30"}) from None


@router.post("/impact/assess", status_code=201)
async def assess(
    request: Request,
    response: Response,
    caller: Caller,
    bundle: Annotated[dict[str, Any], Body(description="a change bundle, or one bare change; see README 'Change bundle'")],
    dry_run: bool = False,
) -> dict:
    """Assess a change bundle against the catalogue: impact graph, risk, readiness.

    Stored and signalled (governance.readiness.signaled.v1, committed with the row) unless
    `dry_run`. A bundle that cannot be assessed is a 422 naming each problem; nothing is stored."""
    if not dry_run and not any(caller.has(role) for role in ASSESS_ROLES):
        raise Problem(403, "forbidden", f"assessing needs one of the roles: {', '.join(ASSESS_ROLES)} (or use dry_run=true)")
    ctx = context(request)
    graph = await _graph(ctx)
    try:
        found = analyzers.assess(bundle, graph)
    except analyzers.BundleError as exc:
        ctx.rejected.inc()
        raise _bundle_problem(exc) from None
    unknown = sum(1 for w in found.report["warnings"] if ": unknown change kind " in w)
    if unknown:
        ctx.unknown_changes.inc(unknown)
    report_digest = domain.digest(found.report)
    threshold = ctx.settings.risk_threshold
    runtime = request.app.state.runtime
    assessment_id = new_id()
    now = datetime.now(UTC)
    if dry_run:
        async with runtime.pool.acquire() as conn:
            decisions = await store.decisions(conn, tenant=caller.tenant, proposal_ids=found.proposal_ids)
        state = domain.readiness(risk=found.risk, threshold=threshold, breaking=found.breaking, decisions=decisions)
        response.status_code = 200
        return _document(None, caller.tenant, caller.sub, now, found, report_digest, state.as_dict(), dry_run=True)
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        decisions = await store.decisions(uow.conn, tenant=caller.tenant, proposal_ids=found.proposal_ids)
        state = domain.readiness(risk=found.risk, threshold=threshold, breaking=found.breaking, decisions=decisions)
        await store.insert_assessment(
            uow.conn, assessment_id=assessment_id, tenant=caller.tenant, created_by=caller.sub, change_kind=found.change_kind,
            label=found.report["label"], fingerprint=graph.fingerprint, bundle=bundle, report=found.report,
            digest=report_digest, risk=found.risk, breaking=found.breaking, proposal_ids=found.proposal_ids,
            affected=found.affected, threshold=threshold, readiness=state.as_dict(),
        )
        uow.emit(domain.READINESS_SIGNALED, domain.readiness_signal(
            assessment_id=assessment_id, change_kind=found.change_kind, risk=found.risk, state=state, affected=found.affected,
        ), subject=assessment_id)
    ctx.assessments(change_kind=found.change_kind, ready=str(state.ready).lower()).inc()
    response.headers["Location"] = f"/v1/impact/{assessment_id}"
    return _document(assessment_id, caller.tenant, caller.sub, now, found, report_digest, state.as_dict())


def _document(assessment_id: str | None, tenant: str, created_by: str, created_at: datetime, found: analyzers.Assessment,
              report_digest: str, readiness: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
    return {
        "assessment_id": assessment_id,
        "dry_run": dry_run,
        "tenant": tenant,
        "created_at": created_at,
        "created_by": created_by,
        "change_kind": found.change_kind,
        "risk_score": found.risk,
        "ready": readiness["ready"],
        "readiness": readiness,
        "digest": report_digest,
        "report": found.report,
    }


@router.get("/impact/analyzers")
async def list_analyzers(caller: Caller) -> dict:
    """The change kinds this deployment assesses, what each looks at, and its input JSON Schema."""
    return {
        "items": [
            {"kind": kind, "description": a.description, "example": a.example, "schema": a.model.model_json_schema(by_alias=True)}
            for kind, a in sorted(analyzers.ANALYZERS.items())
        ]
    }


@router.get("/impact/stats")
async def impact_stats(caller: Caller, request: Request, since: datetime | None = None, top: int = 20) -> dict:
    """The tenant's assessment counts (ready / not ready, per kind) and its most often affected nodes."""
    if not 1 <= top <= 100:
        raise Problem(400, "invalid top", "top must be between 1 and 100")
    async with request.app.state.runtime.pool.acquire() as conn:
        found = await store.stats(conn, tenant=caller.tenant, since=since, top=top)
    return {"since": since, **found}


@router.get("/impact/{assessment_id}")
async def get_assessment(assessment_id: str, caller: Caller, request: Request, format: str = "json") -> Any:
    """A stored assessment: the report as it was produced, and its current readiness."""
    if format not in ("json", "text"):
        raise Problem(400, "invalid format", "format is json or text")
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        row = await store.get_assessment(conn, assessment_id)
    if row is None or not caller.can_see(row["tenant"]):
        raise await tenancy.not_found(runtime.pool, caller, f"assessment {assessment_id}",
                                      owner_tenant=row["tenant"] if row else None)
    document = {
        **{k: row[k] for k in ("assessment_id", "tenant", "created_at", "created_by", "change_kind", "digest", "signals",
                                "updated_at", "bundle", "report", "readiness")},
        "dry_run": False,
        "risk_score": row["risk_score"],
        "ready": row["ready"],
    }
    if format == "text":
        return PlainTextResponse(text_report(document))
    return document


def text_report(document: dict[str, Any]) -> str:
    readiness = document["readiness"]
    lines = [f"assessment {document['assessment_id']} ({document['change_kind']}), digest {document['digest']}"]
    lines += [f"  {line}" for line in document["report"]["summary"]]
    lines.append(f"ready: {'yes' if readiness['ready'] else 'no'} (threshold {readiness['threshold']})")
    lines += [f"  - {reason}" for reason in readiness["reasons"]]
    affected = [n for n in document["report"]["nodes"] if n["affected"]]
    if affected:
        lines.append("affected, with the path that explains each:")
        lines += [f"  {n['id']} [{n['severity']}]: {' -> '.join(n['path'])}" for n in affected]
    lines += [f"warning: {w}" for w in document["report"]["warnings"]]
    return "\n".join(lines) + "\n"


@router.get("/impact")
async def list_assessments(
    caller: Caller,
    request: Request,
    cursor: str | None = None,
    limit: int = 50,
    ready: bool | None = None,
    kind: str | None = None,
    affects: str | None = None,
) -> dict:
    """The tenant's assessments, newest first. Filters: `ready`, `kind` (a change kind),
    `affects` (a node id such as service:unified-profile)."""
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    before = str(after[0]) if after else None
    if after is not None and (len(after) != 1 or store.as_uuid(before) is None):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    if kind is not None and kind not in analyzers.ANALYZERS:
        raise Problem(400, "invalid kind", f"unknown change kind {kind!r}; known kinds: {', '.join(sorted(analyzers.ANALYZERS))}")
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await store.list_assessments(conn, tenant=caller.tenant, limit=limit + 1, before=before, ready=ready,
                                            kind=kind, affects=affects)
    page = rows[:limit]
    return {"items": page, "next_cursor": encode_cursor(page[-1]["assessment_id"]) if len(rows) > limit else None}
