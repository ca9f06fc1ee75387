"""HTTP routes of reporting (bearer JWT; every query scoped to the caller's tenant = company).

The one deliberate exception to "JWT on every route": GET /v1/shared/{token}. The signed
share-link token is the credential there (HMAC-SHA256, opaque link id + expiry only).
GET /v1/stream/metrics also accepts ?access_token= because EventSource cannot set headers.
Query routes answer with a strong ETag (sha256 of the body) and 304 on If-None-Match.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.reporting import deps, domain, reports, share_links, sse, store
from summit_common import tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.pagination import as_utc, clamp_limit, decode_cursor, decode_time_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts.ids import new_id

router = APIRouter(prefix="/v1", tags=["reporting"])
Caller = Annotated[Principal, Depends(current_principal)]
Approver = Annotated[Principal, Depends(require_role("admin", "company_admin"))]
Template = Literal["quarterly", "annual", "investor_update", "impact_deep_dive"]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[A-Za-z]{2,}$", max_length=254)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- helpers ----------------------------------------------------------------------------

def etagged(request: Request, body: Any) -> Response:
    """JSON with a strong ETag over the exact bytes; 304 when the client already has them."""
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()
    tag = f'"{hashlib.sha256(raw).hexdigest()}"'
    match = request.headers.get("if-none-match", "")
    if match and (match.strip() == "*" or tag in {t.strip().removeprefix("W/") for t in match.split(",")}):
        return Response(status_code=304, headers={"ETag": tag})
    return Response(raw, media_type="application/json", headers={"ETag": tag, "Cache-Control": "private, no-cache"})


def _runtime(request: Request):
    return request.app.state.runtime


async def _owned(request: Request, caller: Principal, row, what: str, action: str = "read"):
    """The row when the caller's tenant owns it; otherwise the (audited) 404."""
    if row is None or not caller.can_see(row["tenant_id"]):
        raise await tenancy.not_found(_runtime(request).pool, caller, what,
                                      owner_tenant=row["tenant_id"] if row else None, action=action)
    return row


def _time_cursor(cursor: str | None):
    after = decode_time_cursor(cursor)
    return None if after is None else (as_utc(after[0]), after[1])


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


# --- evidence explorer ------------------------------------------------------------------

@router.get("/evidence")
async def list_evidence(
    request: Request, caller: Caller,
    since: Annotated[datetime | None, Query(alias="from", description="observed_at >= from")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="observed_at < to")] = None,
    program: str | None = None,
    dimension: Annotated[str | None, Query(description="outcome label")] = None,
    cohort: Annotated[str | None, Query(pattern=r"^\d{4}-Q[1-4]$", description="quarter of the participant's first evidence")] = None,
    limit: int = 50, cursor: str | None = None,
) -> Response:
    """Anonymised evidence snippets, newest first, each with its provenance."""
    limit = clamp_limit(limit)
    since, until = as_utc(since), as_utc(until)
    if since and until and since >= until:
        raise Problem(400, "invalid time range", "`from` must be before `to`")
    async with _runtime(request).pool.acquire() as conn:
        rows = await store.list_evidence(conn, tenant=caller.tenant, since=since, until=until, program=program,
                                         dimension=dimension, cohort=cohort, after=_time_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    items = [{"evidence_id": r["evidence_id"], "participant": r["participant"], "cohort": r["cohort"],
              "program": r["program"], "dimensions": list(r["dimensions"]), "snippet": domain.redact(r["snippet"]),
              "snippet_sha256": r["snippet_sha256"], "observed_at": r["observed_at"].isoformat(),
              "provenance": reports.provenance(r)} for r in page]
    next_cursor = encode_cursor(page[-1]["observed_at"].isoformat(), page[-1]["evidence_id"]) if len(rows) > limit else None
    return etagged(request, {"items": items, "next_cursor": next_cursor})


# --- metric snapshots and lineage -------------------------------------------------------

def _metric(row) -> dict[str, Any]:
    return {k: _iso(row[k]) for k in ("period", "metric_id", "sroi_ratio", "social_value", "investment", "vis_score",
                                       "config_version", "computed_at")}


@router.get("/metrics")
async def list_metrics(request: Request, caller: Caller, period: str | None = None, history: bool = False,
                       limit: int = 50, cursor: str | None = None) -> Response:
    """Latest figures per period of the caller's company (with every received revision if `history`)."""
    limit = clamp_limit(limit)
    if period is not None and domain.period_bounds(period) is None:
        raise Problem(422, "invalid period", f"period {period!r} is not YYYY, YYYY-Qn or YYYY-MM")
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    async with _runtime(request).pool.acquire() as conn:
        rows = await store.list_metrics(conn, tenant=caller.tenant, period=period, after=after[0] if after else None,
                                        limit=limit + 1)
        page = rows[:limit]
        items = [_metric(r) | {"company_id": r["tenant_id"]} for r in page]
        if history and page:
            past = await store.metric_history(conn, tenant=caller.tenant, periods=[r["period"] for r in page])
            for item in items:
                item["history"] = [_metric(h) for h in past if h["period"] == item["period"]]
    return etagged(request, {"items": items, "next_cursor": encode_cursor(page[-1]["period"]) if len(rows) > limit else None})


@router.get("/metrics/{metric_id}/why")
async def why_metric(metric_id: str, request: Request, caller: Caller, limit: int = 100, cursor: str | None = None) -> Response:
    """From the aggregate (impact-calculator lineage) to its evidence ids to a preview of each snippet."""
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    client = deps.impact_client(request.app)
    try:
        r = await client.get(f"/v1/lineage/{metric_id}", params={"limit": 1},
                             headers={"Authorization": request.headers.get("authorization", "")})
    except httpx.HTTPError as exc:
        raise Problem(502, "impact-calculator unreachable", f"lineage lookup failed: {type(exc).__name__}") from None
    if r.status_code == 404:
        raise Problem(404, "not found", f"metric {metric_id} does not exist")
    if r.status_code != 200:
        raise Problem(502, "impact-calculator error", f"lineage lookup answered {r.status_code}")
    lineage = r.json()
    if not caller.can_see(str(lineage.get("company_id"))):
        raise Problem(404, "not found", f"metric {metric_id} does not exist")
    ids = sorted(set(lineage.get("evidence_ids") or []))
    start = after[0] if after else 0
    page = ids[start:start + limit]
    async with _runtime(request).pool.acquire() as conn:
        found = await store.evidence_by_ids(conn, tenant=lineage["company_id"], ids=page)
    evidence = []
    for ev_id in page:
        row = found.get(ev_id)
        evidence.append({"evidence_id": ev_id, "status": "received", "preview": domain.preview(domain.redact(row["snippet"])),
                         "dimensions": list(row["dimensions"]), "observed_at": row["observed_at"].isoformat(),
                         "provenance": reports.provenance(row)} if row else
                        {"evidence_id": ev_id, "status": "not yet received", "preview": None})
    metric = {k: lineage.get(k) for k in ("metric_id", "company_id", "period", "revision", "sroi_ratio", "social_value",
                                          "investment", "vis_score", "config_version", "computed_at", "outcome_counts")}
    return etagged(request, {"metric": metric, "evidence_count": len(ids), "evidence": evidence,
                             "next_cursor": encode_cursor(start + limit) if start + limit < len(ids) else None,
                             "lineage": f"/v1/lineage/{metric_id}"})


# --- SSE --------------------------------------------------------------------------------

def stream_principal(request: Request, access_token: str | None = None) -> Principal:
    """Bearer header, or ?access_token= for EventSource (which cannot set headers)."""
    if request.headers.get("authorization") or not access_token:
        return current_principal(request)
    principal = request.app.state.verifier.verify(access_token)
    request.state.principal = principal
    return principal


@router.get("/stream/metrics", response_class=StreamingResponse)
async def stream_metrics(request: Request, caller: Annotated[Principal, Depends(stream_principal)]) -> StreamingResponse:
    """text/event-stream of the caller's tenant's metric updates; `id` is the JetStream stream
    sequence; send Last-Event-ID to resume; a comment line every 15 s keeps proxies open."""
    raw = request.headers.get("last-event-id")
    if raw is not None and not raw.strip().isdigit():
        raise Problem(400, "invalid Last-Event-ID", "Last-Event-ID must be an event id this stream sent")
    hub = await sse.hub_for(request.app)
    return StreamingResponse(
        sse.stream(hub, caller.tenant, int(raw) if raw is not None else None, deps.cfg(request.app).sse_heartbeat_seconds),
        media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# --- generated reports ------------------------------------------------------------------

class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    period: Annotated[str, StringConstraints(min_length=4, max_length=7)]
    template: Template
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)


@router.post("/gen-reports:generate", status_code=201)
async def generate_report(body: GenerateBody, request: Request, caller: Caller) -> dict:
    """Generate a draft: sections of paragraphs (each citing evidence ids) and chart recommendations."""
    runtime = _runtime(request)
    if not caller.can_see(body.company_id):
        raise await tenancy.not_found(runtime.pool, caller, f"company {body.company_id}", owner_tenant=body.company_id,
                                      action="generate")
    app = request.app
    async with runtime.unit_of_work(tenant=body.company_id, correlationid=request.state.correlation_id) as uow:
        report = await reports.generate(uow.conn, generator=deps.generator(app), tenant=body.company_id,
                                        period=body.period, template=body.template, seed=body.seed, by=caller.sub,
                                        now=deps.clock(app), per_hour=deps.cfg(app).generations_per_hour)
        row = await store.get_report(uow.conn, report["report_id"])
        return await reports.view(uow.conn, row)


@router.get("/gen-reports")
async def list_reports(request: Request, caller: Caller, period: str | None = None,
                       status: Literal["draft", "approved"] | None = None, limit: int = 50,
                       cursor: str | None = None) -> Response:
    limit = clamp_limit(limit)
    async with _runtime(request).pool.acquire() as conn:
        rows = await store.list_reports(conn, tenant=caller.tenant, period=period, status=status,
                                        after=_time_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    items = [{"report_id": str(r["report_id"]), "company_id": r["tenant_id"], "period": r["period"],
              "template": r["template"], "status": r["status"], "evidence_hash": r["evidence_hash"],
              "generator": r["generator"], "prompt_version": r["prompt_version"], "created_at": r["created_at"].isoformat(),
              "approved_at": _iso(r["approved_at"]),
              "telemetry": {"tokens_in": r["tokens_in"], "tokens_out": r["tokens_out"], "cost": r["cost"]}} for r in page]
    next_cursor = encode_cursor(page[-1]["created_at"].isoformat(), str(page[-1]["report_id"])) if len(rows) > limit else None
    return etagged(request, {"items": items, "next_cursor": next_cursor})


async def _report(request: Request, caller: Principal, conn, report_id: str, action: str = "read"):
    return await _owned(request, caller, await store.get_report(conn, report_id), f"report {report_id}", action)


@router.get("/gen-reports/{report_id}")
async def get_report(report_id: str, request: Request, caller: Caller) -> Response:
    async with _runtime(request).pool.acquire() as conn:
        row = await _report(request, caller, conn, report_id)
        return etagged(request, await reports.view(conn, row))


@router.post("/gen-reports/{report_id}/approve")
async def approve_report(report_id: str, request: Request, caller: Approver) -> dict:
    runtime = _runtime(request)
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        row = await _report(request, caller, uow.conn, report_id, action="approve")
        if row["status"] == "approved":
            raise Problem(409, "already approved", f"report {report_id} was approved at {row['approved_at'].isoformat()}")
        row = await store.approve_report(uow.conn, report_id=report_id, by=caller.sub, at=deps.clock(request.app))
        return await reports.view(uow.conn, row)


EXPORT_TYPES = {"pdf": "application/pdf",
                "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}


async def _export(report_id: str, fmt: str, request: Request, caller: Principal) -> Response:
    async with _runtime(request).pool.acquire() as conn:
        row = await _report(request, caller, conn, report_id)
        export = await reports.export(conn, row, fmt)
    # Weak: the same inputs render the same document, though not byte for byte (files embed
    # their creation time). A match skips the rendering altogether.
    tag = f'W/"{export.fingerprint}"'
    if tag.removeprefix("W/") in {t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(await export.render(), media_type=EXPORT_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="report-{row["period"]}-{report_id}.{fmt}"',
        "X-Evidence-Hash": row["evidence_hash"], "ETag": tag, "Cache-Control": "private, no-cache"})


@router.get("/gen-reports/{report_id}/export.pdf", response_class=Response)
async def export_pdf(report_id: str, request: Request, caller: Caller) -> Response:
    return await _export(report_id, "pdf", request, caller)


@router.get("/gen-reports/{report_id}/export.pptx", response_class=Response)
async def export_pptx(report_id: str, request: Request, caller: Caller) -> Response:
    return await _export(report_id, "pptx", request, caller)


# --- themes -----------------------------------------------------------------------------

class ThemePut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primary_color: Color
    secondary_color: Color
    logo_png_base64: str | None = None


def _logo(text: str | None, max_bytes: int) -> bytes | None:
    if not text:
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Problem(422, "invalid logo", "logo_png_base64 is not base64") from None
    if len(data) > max_bytes:
        raise Problem(422, "logo too large", f"the logo is {len(data)} bytes; the limit is {max_bytes}")
    if not data.startswith(PNG_SIGNATURE):
        raise Problem(422, "invalid logo", "the logo must be a PNG image")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            if image.format != "PNG":
                raise ValueError
    except Exception:  # noqa: BLE001 - any decoder error means "not a valid PNG"
        raise Problem(422, "invalid logo", "the logo is not a valid PNG image") from None
    return data


@router.get("/themes")
async def get_theme(request: Request, caller: Caller) -> Response:
    async with _runtime(request).pool.acquire() as conn:
        theme = await reports.theme_of(conn, caller.tenant)
    return etagged(request, reports.theme_view(theme) | {"company_id": caller.tenant})


@router.put("/themes")
async def put_theme(body: ThemePut, request: Request, caller: Approver) -> dict:
    logo = _logo(body.logo_png_base64, deps.cfg(request.app).logo_max_bytes)
    async with _runtime(request).pool.acquire() as conn:
        row = await store.put_theme(conn, tenant=caller.tenant, primary=body.primary_color.upper(),
                                    secondary=body.secondary_color.upper(), logo=logo, by=caller.sub, at=deps.clock(request.app))
    return reports.theme_view(dict(row)) | {"company_id": caller.tenant}


# --- saved views ------------------------------------------------------------------------

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ViewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    filters: dict[str, Any] = Field(default_factory=dict)
    visibility: Literal["private", "public"] = "private"


class ViewPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    filters: dict[str, Any] | None = None
    visibility: Literal["private", "public"] | None = None


def _view(row) -> dict[str, Any]:
    return {"view_id": str(row["view_id"]), "name": row["name"], "filters": json.loads(row["filters"]),
            "visibility": row["visibility"], "owner": row["owner"], "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat()}


def _check_filters(filters: dict[str, Any]) -> None:
    if len(json.dumps(filters)) > 16_384:
        raise Problem(422, "filters too large", "filters must serialise to at most 16 KiB of JSON")


async def _visible_view(request: Request, caller: Principal, conn, view_id: str, action: str = "read"):
    row = await store.get_view(conn, view_id)
    if row is not None and row["tenant_id"] == caller.tenant and row["visibility"] == "private" and row["owner"] != caller.sub:
        raise Problem(404, "not found", f"view {view_id} does not exist")  # someone else's private view
    return await _owned(request, caller, row, f"view {view_id}", action)


@router.post("/views", status_code=201)
async def create_view(body: ViewCreate, request: Request, caller: Caller) -> dict:
    _check_filters(body.filters)
    async with _runtime(request).pool.acquire() as conn:
        row = await store.create_view(conn, tenant=caller.tenant, owner=caller.sub, name=body.name, filters=body.filters,
                                      visibility=body.visibility, at=deps.clock(request.app))
    return _view(row)


@router.get("/views")
async def list_views(request: Request, caller: Caller, limit: int = 50, cursor: str | None = None) -> Response:
    """The caller's own views and the public views of their tenant."""
    limit = clamp_limit(limit)
    async with _runtime(request).pool.acquire() as conn:
        rows = await store.list_views(conn, tenant=caller.tenant, user=caller.sub, after=_time_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]["created_at"].isoformat(), str(page[-1]["view_id"])) if len(rows) > limit else None
    return etagged(request, {"items": [_view(r) for r in page], "next_cursor": next_cursor})


@router.get("/views/{view_id}")
async def get_view(view_id: str, request: Request, caller: Caller) -> Response:
    async with _runtime(request).pool.acquire() as conn:
        return etagged(request, _view(await _visible_view(request, caller, conn, view_id)))


@router.patch("/views/{view_id}")
async def update_view(view_id: str, body: ViewPatch, request: Request, caller: Caller) -> dict:
    if body.filters is not None:
        _check_filters(body.filters)
    async with _runtime(request).pool.acquire() as conn:
        row = await _visible_view(request, caller, conn, view_id, action="update")
        if row["owner"] != caller.sub:
            raise Problem(403, "forbidden", "only the owner of a view may change it")
        row = await store.update_view(conn, view_id=view_id, changes=body.model_dump(exclude_unset=True), at=deps.clock(request.app))
    return _view(row)


@router.delete("/views/{view_id}", status_code=204)
async def delete_view(view_id: str, request: Request, caller: Caller) -> Response:
    async with _runtime(request).pool.acquire() as conn:
        row = await _visible_view(request, caller, conn, view_id, action="delete")
        if row["owner"] != caller.sub:
            raise Problem(403, "forbidden", "only the owner of a view may delete it")
        await store.delete_view(conn, view_id)
    return Response(status_code=204)


# --- share links ------------------------------------------------------------------------

class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    ttl_days: int = Field(ge=1, le=90)
    include_sensitive: bool = False


@router.post("/share-links", status_code=201)
async def create_share_link(body: ShareCreate, request: Request, caller: Caller) -> dict:
    cfg, now = deps.cfg(request.app), deps.clock(request.app)
    async with _runtime(request).pool.acquire() as conn:
        row = await _report(request, caller, conn, body.report_id, action="share")
        link_id = new_id()
        expires_at = now + timedelta(days=body.ttl_days)
        await store.create_link(conn, link_id=link_id, tenant=row["tenant_id"], report_id=body.report_id,
                                expires_at=expires_at, include_sensitive=body.include_sensitive, by=caller.sub, at=now)
    token = share_links.sign(cfg.share_link_secret, link_id, expires_at)
    return {"link_id": link_id, "url": f"{cfg.public_base_url.rstrip('/')}/v1/shared/{token}",
            "expires_at": expires_at.isoformat(), "include_sensitive": body.include_sensitive}


async def _link(request: Request, caller: Principal, conn, link_id: str, action: str):
    return await _owned(request, caller, await store.get_link(conn, link_id), f"share link {link_id}", action)


@router.delete("/share-links/{link_id}", status_code=204)
async def revoke_share_link(link_id: str, request: Request, caller: Caller) -> Response:
    async with _runtime(request).pool.acquire() as conn:
        await _link(request, caller, conn, link_id, "revoke")
        await store.revoke_link(conn, link_id=link_id, at=deps.clock(request.app))
    return Response(status_code=204)


@router.get("/share-links/{link_id}/access")
async def share_link_access(link_id: str, request: Request, caller: Caller) -> Response:
    """The access log of a link (time and outcome; the client address only as a keyed hash)."""
    async with _runtime(request).pool.acquire() as conn:
        await _link(request, caller, conn, link_id, "read")
        rows = await store.link_accesses(conn, link_id)
    return etagged(request, {"items": [{"at": r["at"].isoformat(), "outcome": r["outcome"]} for r in rows]})


@router.get("/shared/{token}")
async def open_share_link(token: str, request: Request) -> Response:
    """No JWT: the signed token is the credential (the one deliberate exception). Expired or
    badly signed -> 403, revoked -> 410; every attempt is logged in share_link_access."""
    cfg, now = deps.cfg(request.app), deps.clock(request.app)
    pool = _runtime(request).pool
    client = share_links.client_hash(cfg.share_link_secret, request.client.host if request.client else None)
    try:
        claims = share_links.verify(cfg.share_link_secret, token)
    except share_links.BadToken:
        await store.log_access(pool, link_id=None, at=now, outcome="bad_signature", client_hash=client)
        raise Problem(403, "invalid share link", "the link is not valid") from None
    async with pool.acquire() as conn:
        link = await store.get_link(conn, claims.link_id)
        if link is None:
            await store.log_access(conn, link_id=None, at=now, outcome="unknown", client_hash=client)
            raise Problem(403, "invalid share link", "the link is not valid")
        if link["revoked_at"] is not None:
            await store.log_access(conn, link_id=claims.link_id, at=now, outcome="revoked", client_hash=client)
            raise Problem(410, "share link revoked", "this link was revoked by its owner")
        if now >= min(claims.expires_at, link["expires_at"]):
            await store.log_access(conn, link_id=claims.link_id, at=now, outcome="expired", client_hash=client)
            raise Problem(403, "share link expired", "this link has expired")
        await store.log_access(conn, link_id=claims.link_id, at=now, outcome="granted", client_hash=client)
        row = await store.get_report(conn, str(link["report_id"]))
        body = await reports.view(conn, row, sensitive=link["include_sensitive"])
    for private in ("created_by", "approved_by"):
        body.pop(private, None)
    return etagged(request, body | {"shared": True, "expires_at": link["expires_at"].isoformat()})


# --- schedules --------------------------------------------------------------------------

class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: Template
    frequency: Literal["monthly", "quarterly"]
    recipients: list[Email] = Field(min_length=1, max_length=50)
    format: Literal["pdf"] = "pdf"


def _schedule(row) -> dict[str, Any]:
    return {"schedule_id": str(row["schedule_id"]), "template": row["template"], "frequency": row["frequency"],
            "recipients": list(row["recipients"]), "format": row["format"], "status": row["status"],
            "next_run_at": row["next_run_at"].isoformat(), "created_at": row["created_at"].isoformat()}


def _run(row) -> dict[str, Any]:
    return {"run_id": str(row["run_id"]), "schedule_id": str(row["schedule_id"]), "period": row["period"],
            "status": row["status"], "attempts": row["attempts"], "error": row["last_error"],
            "next_attempt_at": _iso(row["next_attempt_at"]), "report_id": str(row["report_id"]) if row["report_id"] else None,
            "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat()}


@router.post("/schedules", status_code=201)
async def create_schedule(body: ScheduleCreate, request: Request, caller: Caller) -> dict:
    now = deps.clock(request.app)
    async with _runtime(request).pool.acquire() as conn:
        row = await store.create_schedule(conn, tenant=caller.tenant, template=body.template, frequency=body.frequency,
                                          recipients=sorted(set(body.recipients)), fmt=body.format,
                                          next_run_at=domain.next_run_at(body.frequency, now), by=caller.sub, at=now)
    return _schedule(row)


@router.get("/schedules")
async def list_schedules(request: Request, caller: Caller, limit: int = 50, cursor: str | None = None) -> Response:
    limit = clamp_limit(limit)
    async with _runtime(request).pool.acquire() as conn:
        rows = await store.list_schedules(conn, tenant=caller.tenant, after=_time_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]["created_at"].isoformat(), str(page[-1]["schedule_id"])) if len(rows) > limit else None
    return etagged(request, {"items": [_schedule(r) for r in page], "next_cursor": next_cursor})


async def _own_schedule(request: Request, caller: Principal, conn, schedule_id: str, action: str = "read"):
    return await _owned(request, caller, await store.get_schedule(conn, schedule_id), f"schedule {schedule_id}", action)


@router.get("/schedules/{schedule_id}")
async def get_schedule(schedule_id: str, request: Request, caller: Caller) -> Response:
    async with _runtime(request).pool.acquire() as conn:
        return etagged(request, _schedule(await _own_schedule(request, caller, conn, schedule_id)))


@router.post("/schedules/{schedule_id}/pause")
async def pause_schedule(schedule_id: str, request: Request, caller: Caller) -> dict:
    async with _runtime(request).pool.acquire() as conn:
        await _own_schedule(request, caller, conn, schedule_id, "update")
        return _schedule(await store.set_schedule_status(conn, schedule_id=schedule_id, status="paused"))


@router.post("/schedules/{schedule_id}/resume")
async def resume_schedule(schedule_id: str, request: Request, caller: Caller) -> dict:
    """Resuming does not replay the periods missed while paused: the next run is the next period end."""
    now = deps.clock(request.app)
    async with _runtime(request).pool.acquire() as conn:
        row = await _own_schedule(request, caller, conn, schedule_id, "update")
        next_at = row["next_run_at"] if row["status"] == "active" else domain.next_run_at(row["frequency"], now)
        return _schedule(await store.set_schedule_status(conn, schedule_id=schedule_id, status="active", next_run_at=next_at))


@router.get("/schedules/{schedule_id}/runs")
async def list_runs(schedule_id: str, request: Request, caller: Caller, limit: int = 50, cursor: str | None = None) -> Response:
    limit = clamp_limit(limit)
    async with _runtime(request).pool.acquire() as conn:
        await _own_schedule(request, caller, conn, schedule_id)
        rows = await store.list_runs(conn, schedule_id=schedule_id, after=_time_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]["created_at"].isoformat(), str(page[-1]["run_id"])) if len(rows) > limit else None
    return etagged(request, {"items": [_run(r) for r in page], "next_cursor": next_cursor})


@router.post("/schedules/{schedule_id}/runs/{run_id}/retry")
async def retry_run(schedule_id: str, run_id: str, request: Request, caller: Caller) -> dict:
    """Re-arm a failed run (fresh attempts, due now); the scheduler's next tick sends it."""
    async with _runtime(request).pool.acquire() as conn:
        await _own_schedule(request, caller, conn, schedule_id, "update")
        run = await store.get_run(conn, run_id)
        if run is None or str(run["schedule_id"]) != schedule_id:
            raise Problem(404, "not found", f"run {run_id} does not exist")
        if run["status"] != "failed":
            raise Problem(409, "run not failed", f"run {run_id} is {run['status']}; only failed runs can be retried")
        return _run(await store.retry_run(conn, run_id=run_id, at=deps.clock(request.app)))
