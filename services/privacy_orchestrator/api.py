"""HTTP routes (bearer JWT with role privacy-officer or admin; scoped to the caller's tenant).

POST /v1/privacy/exports                    start a DSAR export for a subject (202)
GET  /v1/privacy/exports                    list (cursor, status filter)
GET  /v1/privacy/exports/{id}               status, holders, expiry, audit trail
GET  /v1/privacy/exports/{id}/bundle        the decrypted bundle (409 collecting, 410 expired)
POST /v1/privacy/exports/{id}/retry         ask the failed holders again (partially_failed only)
POST /v1/privacy/deletions                  schedule a deletion after a cancellable window (202)
GET  /v1/privacy/deletions                  list
GET  /v1/privacy/deletions/{id}             status, confirmations, audit trail
POST /v1/privacy/deletions/{id}/cancel      cancel inside the window (409 after it)
POST /v1/privacy/deletions/{id}/retry       ask the failed holders again (partially_failed only)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.privacy_orchestrator import config, crypto, domain, jobs, store
from services.privacy_orchestrator.domain import DELETION, EXPORT
from summit_common import tenancy
from summit_common.auth import Principal, require_role
from summit_common.pagination import clamp_limit, decode_time_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts.events.privacy import DataSubject

router = APIRouter(prefix="/v1/privacy", tags=["privacy-orchestrator"])
Officer = Annotated[Principal, Depends(require_role("privacy-officer", "admin"))]
STATUSES = {EXPORT: {"collecting", "complete", "partially_failed", "expired"},
            DELETION: {"scheduled", "cancelled", "executing", "complete", "partially_failed"}}


class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: DataSubject


class DeletionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: DataSubject
    window_days: int | None = Field(default=None, ge=0, le=90,
                                    description="cancellation window; default PRIVACY_DELETION_WINDOW_DAYS")


def _iso(value):
    return value.isoformat() if value is not None else None


async def _view(conn, request: dict) -> dict[str, Any]:
    holders = await store.holder_views(conn, request["request_id"])
    trail = await store.audit_trail(conn, request["request_id"])
    view: dict[str, Any] = {
        "id": request["request_id"], "status": request["status"], "requested_by": request["requested_by"],
        "expected_holders": list(request["holders"]), "created_at": _iso(request["created_at"]),
        "fanned_out_at": _iso(request["fanned_out_at"]), "completed_at": _iso(request["completed_at"]),
        "holders": [{"service": h["service"], "status": h["status"], "attempts": h["attempt"],
                     "retrying": h["status"] != "ok" and not h["exhausted"], "requested_at": _iso(h["requested_at"]),
                     "answered_at": _iso(h["answered_at"]), "counts": h["counts"], "error": h["error"]}
                    for h in holders],
        "audit": [{"step": a["step"], "service": a["service"], "attempt": a["attempt"], "at": _iso(a["at"]),
                   "actor": a["actor"]} for a in trail],
    }
    if request["kind"] == EXPORT:
        view |= {"job_id": request["request_id"], "expires_at": _iso(request["expires_at"]),
                 "expired_at": _iso(request["expired_at"]),
                 "bundle": {"sha256": request["bundle_sha256"], "bytes": request["bundle_bytes"],
                            "href": f"/v1/privacy/exports/{request['request_id']}/bundle"}
                 if request["status"] == domain.COMPLETE else None}
    else:
        view |= {"request_id": request["request_id"], "window_days": request["window_days"],
                 "execute_after": _iso(request["execute_after"]), "cancelled_at": _iso(request["cancelled_at"])}
    return view


async def _find(conn, request: Request, caller: Principal, kind: str, request_id: str, *, lock: bool = False,
                action: str = "read") -> dict:
    row = await store.get_request(conn, request_id, kind, lock=lock)
    if row is None or not caller.can_see(row["tenant_id"]):
        owner = row["tenant_id"] if row else await store.request_owner(conn, request_id)
        raise await tenancy.not_found(request.app.state.runtime.pool, caller, f"{kind} {request_id}",
                                      owner_tenant=owner, action=action)
    return row


async def _get(request: Request, caller: Principal, kind: str, request_id: str) -> dict:
    async with request.app.state.runtime.pool.acquire() as conn:
        return await _view(conn, await _find(conn, request, caller, kind, request_id))


async def _list(request: Request, caller: Principal, kind: str, status: str | None, limit: int,
                cursor: str | None) -> dict:
    limit = clamp_limit(limit)
    if status is not None and status not in STATUSES[kind]:
        raise Problem(422, "invalid status", f"status must be one of {', '.join(sorted(STATUSES[kind]))}")
    after = decode_time_cursor(cursor)
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await store.list_requests(conn, tenant=caller.tenant, kind=kind, status=status, limit=limit + 1,
                                         after=after)
    page = rows[:limit]
    items = [{"id": r["request_id"], "status": r["status"], "created_at": _iso(r["created_at"]),
              "completed_at": _iso(r["completed_at"]), "expected_holders": list(r["holders"]),
              **({"expires_at": _iso(r["expires_at"])} if kind == EXPORT else {"execute_after": _iso(r["execute_after"])})}
             for r in page]
    last = page[-1] if page else None
    return {"items": items,
            "next_cursor": encode_cursor(last["created_at"].isoformat(), last["request_id"]) if len(rows) > limit else None}


async def _retry(request: Request, caller: Principal, kind: str, request_id: str) -> dict:
    runtime = request.app.state.runtime
    now = config.clock.now()
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        row = await _find(uow.conn, request, caller, kind, request_id, lock=True, action="retry")
        if not domain.can_retry(row["status"]):
            raise Problem(409, "nothing to retry", f"the {kind} is {row['status']}; only a partially_failed one can be retried")
        failed = [h for h in await store.holders_of(uow.conn, request_id) if h.status != "ok"]
        await jobs.ask_again(uow, row, failed, actor=caller.sub, now=now)
    return await _get(request, caller, kind, request_id)


# --- exports ----------------------------------------------------------------------------


@router.post("/exports", status_code=202)
async def create_export(body: ExportCreate, caller: Officer, request: Request, response: Response) -> dict:
    """Start a DSAR export: every holder is asked for the subject's data, sealed to a key of this job."""
    runtime = request.app.state.runtime
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        job_id = await jobs.create_export(uow, tenant=caller.tenant, actor=caller.sub, subject=body.subject,
                                          now=config.clock.now())
    response.headers["Location"] = f"/v1/privacy/exports/{job_id}"
    return await _get(request, caller, EXPORT, job_id)


@router.get("/exports")
async def list_exports(caller: Officer, request: Request, status: str | None = None, limit: int = 50,
                       cursor: str | None = None) -> dict:
    return await _list(request, caller, EXPORT, status, limit, cursor)


@router.get("/exports/{job_id}")
async def get_export(job_id: str, caller: Officer, request: Request) -> dict:
    return await _get(request, caller, EXPORT, job_id)


@router.get("/exports/{job_id}/bundle")
async def get_bundle(job_id: str, caller: Officer, request: Request) -> Response:
    """The bundle, decrypted for this download (409 while collecting, 410 once expired)."""
    runtime = request.app.state.runtime
    now = config.clock.now()
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        row = await _find(uow.conn, request, caller, EXPORT, job_id, action="download")
        state = domain.bundle_state(row["status"], row["expires_at"], now)
        if state == "expired":
            raise Problem(410, "export expired", f"the bundle of export {job_id} expired and was (or is being) deleted")
        if state == "not_ready":
            raise Problem(409, "export not ready", f"export {job_id} is {row['status']}; the bundle exists once it is complete")
        blob = await store.bundle_blob(uow.conn, job_id)
        bundle = crypto.decrypt_bundle(config.current().keyring, job_id, blob, row["bundle_key_enc"])
        if crypto.sha256_hex(bundle) != row["bundle_sha256"]:
            raise Problem(500, "bundle corrupted", "the stored bundle does not match its checksum")
        await store.audit(uow.conn, tenant=row["tenant_id"], kind=EXPORT, request_id=job_id, step="bundle_downloaded",
                          at=now, actor=caller.sub)
    return Response(bundle, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="dsar-{job_id}.json"', "Cache-Control": "no-store"})


@router.post("/exports/{job_id}/retry")
async def retry_export(job_id: str, caller: Officer, request: Request) -> dict:
    return await _retry(request, caller, EXPORT, job_id)


# --- deletions --------------------------------------------------------------------------


@router.post("/deletions", status_code=202)
async def create_deletion(body: DeletionCreate, caller: Officer, request: Request, response: Response) -> dict:
    """Schedule the erasure of a subject everywhere, after a window in which it can be cancelled."""
    runtime = request.app.state.runtime
    window = body.window_days if body.window_days is not None else config.current().deletion_window_days
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        request_id = await jobs.create_deletion(uow, tenant=caller.tenant, actor=caller.sub, subject=body.subject,
                                                window_days=window, now=config.clock.now())
    response.headers["Location"] = f"/v1/privacy/deletions/{request_id}"
    return await _get(request, caller, DELETION, request_id)


@router.get("/deletions")
async def list_deletions(caller: Officer, request: Request, status: str | None = None, limit: int = 50,
                         cursor: str | None = None) -> dict:
    return await _list(request, caller, DELETION, status, limit, cursor)


@router.get("/deletions/{request_id}")
async def get_deletion(request_id: str, caller: Officer, request: Request) -> dict:
    return await _get(request, caller, DELETION, request_id)


@router.post("/deletions/{request_id}/cancel")
async def cancel_deletion(request_id: str, caller: Officer, request: Request) -> dict:
    runtime = request.app.state.runtime
    now = config.clock.now()
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        row = await _find(uow.conn, request, caller, DELETION, request_id, lock=True, action="cancel")
        if not domain.can_cancel(row["status"], row["execute_after"], now):
            raise Problem(409, "cannot cancel",
                          f"deletion {request_id} is {row['status']} and its window ended at {row['execute_after'].isoformat()}"
                          if row["status"] == domain.SCHEDULED else f"deletion {request_id} is {row['status']}")
        await jobs.cancel_deletion(uow, row, actor=caller.sub, now=now)
    return await _get(request, caller, DELETION, request_id)


@router.post("/deletions/{request_id}/retry")
async def retry_deletion(request_id: str, caller: Officer, request: Request) -> dict:
    return await _retry(request, caller, DELETION, request_id)
