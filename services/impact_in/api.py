"""HTTP routes (bearer JWT, scoped to the caller's tenant = company), except the Benevity
status webhook, which the partner authenticates with its HMAC signature instead.

PUT    /v1/connections/{platform}          settings + secrets (admin, company_admin); secrets never returned
GET    /v1/connections                     this company's connections, secrets masked (admin, company_admin)
DELETE /v1/connections/{platform}          (admin, company_admin)
GET    /v1/platforms                       circuit breaker per platform, connected or not
GET    /v1/deliveries?platform=&status=&cursor=&limit=
GET    /v1/deliveries/{id}                 with the attempt history and the payload last sent
POST   /v1/deliveries/{id}/replay          re-queue under the same idempotency key (admin, company_admin)
GET    /v1/deliveries/{id}/preview         what would be sent now vs what was sent, field by field
POST   /v1/webhooks/benevity/{tenant}      X-Benevity-Signature: t=<unix>,v1=<hex hmac>
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, ValidationError

from services.impact_in import context, store
from services.impact_in.connectors import workday
from services.impact_in.crypto import mask
from services.impact_in.domain import mappers, retry, signatures
from summit_common import tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.logs import get_logger
from summit_common.pagination import clamp_limit, decode_time_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts.ids import is_uuid, new_id

router = APIRouter(prefix="/v1", tags=["impact-in"])
Caller = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, Depends(require_role("admin", "company_admin"))]
log = get_logger(component="impact-in.api")
STATUSES = ("pending", "failed", "delivered", "dead")
Ref = Annotated[str, Field(min_length=1, max_length=200)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    base_url: AnyHttpUrl
    company_ref: Ref | None = Field(default=None, description="the company's id at the partner (default: tenant)")
    currency: str = Field(default=mappers.DEFAULT_CURRENCY, pattern=r"^[A-Z]{3}$")


class BenevityConnection(_Settings):
    api_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None


class GooderaConnection(_Settings):
    token_url: AnyHttpUrl
    client_id: Ref
    scope: str | None = Field(default=None, max_length=500)
    client_secret: SecretStr | None = None


class WorkdayConnection(_Settings):
    workday_tenant: str = Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")
    service_path: str = Field(default=workday.DEFAULT_SERVICE_PATH, pattern=r"^[A-Za-z0-9_./-]{1,200}$")
    username: Ref
    password: SecretStr | None = None


MODELS: dict[str, type[_Settings]] = {"benevity": BenevityConnection, "goodera": GooderaConnection,
                                      "workday": WorkdayConnection}
SECRETS = {"benevity": ("api_key", "webhook_secret"), "goodera": ("client_secret",), "workday": ("password",)}
REQUIRED_SECRETS = {"benevity": ("api_key",), "goodera": ("client_secret",), "workday": ("password",)}


def _platform(platform: str) -> str:
    if platform not in mappers.PLATFORMS:
        raise Problem(404, "unknown platform", f"platform must be one of {', '.join(mappers.PLATFORMS)}")
    return platform


def _connection_view(row: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    view = {"platform": row["platform"], "enabled": row["enabled"], "settings": row["settings"],
            "secrets": {name: mask(secrets.get(name)) for name in SECRETS[row["platform"]]},
            "updated_by": row["updated_by"], "updated_at": row["updated_at"].isoformat()}
    if row["platform"] == "workday":
        view["endpoint"] = workday.endpoint(row["settings"])
    if row["platform"] == "benevity":
        view["webhook_path"] = f"/v1/webhooks/benevity/{row['tenant_id']}"
    return view


@router.put("/connections/{platform}")
async def put_connection(platform: str, caller: Admin, request: Request, body: Annotated[Any, Body()] = None) -> dict:
    """Create or replace a connection. Secrets omitted on an update keep their stored value."""
    _platform(platform)
    runtime = request.app.state.runtime
    ctx = context.of(runtime)
    try:
        parsed = MODELS[platform].model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        detail = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        raise Problem(422, "invalid connection", detail, errors=[
            {"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()[:20]]) from None
    values = parsed.model_dump(exclude={"enabled", *SECRETS[platform]}, mode="json")
    new_secrets = {name: getattr(parsed, name).get_secret_value() for name in SECRETS[platform]
                   if getattr(parsed, name) is not None}
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        existing = await store.get_connection(uow.conn, tenant=caller.tenant, platform=platform)
        secrets = ctx.box.open_or_empty(existing["secrets"], tenant=caller.tenant, platform=platform) \
            if existing else {}
        secrets.update(new_secrets)
        missing = [name for name in REQUIRED_SECRETS[platform] if not secrets.get(name)]
        if missing:
            raise Problem(422, "invalid connection", f"{', '.join(missing)}: required")
        await store.put_connection(uow.conn, tenant=caller.tenant, platform=platform, enabled=parsed.enabled,
                                   settings=values, secrets=ctx.box.seal(secrets, tenant=caller.tenant, platform=platform),
                                   by=caller.sub, now=ctx.clock())
        row = await store.get_connection(uow.conn, tenant=caller.tenant, platform=platform)
    for key in [k for k in ctx.tokens if k[0] == caller.tenant]:
        ctx.tokens.pop(key, None)  # new credentials: no token of the old ones is reused
    log.info("connection_saved", tenant=caller.tenant, platform=platform, actor=caller.sub)
    return _connection_view(row, secrets)


@router.post("/connections/{platform}/backfill", status_code=202)
async def backfill(platform: str, caller: Admin, request: Request) -> dict:
    """Queue the latest figures of every period for a newly connected platform (figures
    computed before the connection existed are otherwise sent only at their next recompute).
    The idempotency keys are the ones the event handler uses, so nothing is queued twice."""
    _platform(platform)
    runtime = request.app.state.runtime
    now = context.of(runtime).clock()
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        connection = await store.get_connection(uow.conn, tenant=caller.tenant, platform=platform)
        if connection is None or not connection["enabled"]:
            raise Problem(409, "not connected", f"{platform} has no enabled connection for this company")
        queued = 0
        for latest in await store.all_latest_metrics(uow.conn, tenant=caller.tenant):
            key = retry.idempotency_key(caller.tenant, platform, latest["metric_id"], latest["computed_at"])
            queued += await store.insert_delivery(
                uow.conn, delivery_id=new_id(), tenant=caller.tenant, platform=platform, payload_type=mappers.PAYLOAD_TYPE,
                key=key, period=latest["period"], metric_id=latest["metric_id"], event_id="backfill",
                metrics=latest["metrics"], now=now, due=now)
    log.info("backfill_queued", tenant=caller.tenant, platform=platform, queued=queued, actor=caller.sub)
    return {"platform": platform, "queued": queued}


@router.get("/connections")
async def list_connections(caller: Admin, request: Request) -> dict:
    runtime = request.app.state.runtime
    ctx = context.of(runtime)
    async with runtime.pool.acquire() as conn:
        rows = await store.list_connections(conn, tenant=caller.tenant)
    return {"items": [_connection_view(r, ctx.box.open_or_empty(r["secrets"], tenant=r["tenant_id"],
                                                                     platform=r["platform"]))
                      for r in rows]}


@router.delete("/connections/{platform}", status_code=204)
async def delete_connection(platform: str, caller: Admin, request: Request) -> None:
    _platform(platform)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        if not await store.delete_connection(conn, tenant=caller.tenant, platform=platform):
            raise Problem(404, "not found", f"no {platform} connection")


@router.get("/platforms")
async def platforms(caller: Caller, request: Request) -> dict:
    """Circuit breaker state per platform (this replica's view) and whether this company is connected."""
    runtime = request.app.state.runtime
    ctx = context.of(runtime)
    async with runtime.pool.acquire() as conn:
        connected = set(await store.enabled_platforms(conn, tenant=caller.tenant))
    now = ctx.clock()
    return {"items": [{"platform": p, "connected": p in connected, "breaker": ctx.breaker(p).view(now)}
                      for p in mappers.PLATFORMS]}


def _delivery_view(d: dict[str, Any]) -> dict[str, Any]:
    view = {k: d[k] for k in ("platform", "payload_type", "status", "attempts", "replays", "period", "metric_id",
                              "idempotency_key", "last_status_code", "last_error", "partner_reference",
                              "partner_status")}
    for k in ("next_attempt_at", "last_push_at", "partner_status_at", "created_at", "updated_at"):
        view[k] = d[k].isoformat() if d[k] else None
    return {"id": str(d["id"]), **view}


async def _delivery(request: Request, caller: Principal, delivery_id: str, *, conn, lock: bool = False,
                    action: str = "read") -> dict[str, Any]:
    runtime = request.app.state.runtime
    row = await store.get_delivery(conn, tenant=caller.tenant, delivery_id=delivery_id, lock=lock) \
        if is_uuid(delivery_id) else None
    if row is None:
        owner = await store.delivery_tenant(conn, delivery_id=delivery_id) if is_uuid(delivery_id) else None
        raise await tenancy.not_found(runtime.pool, caller, f"delivery {delivery_id}", owner_tenant=owner, action=action)
    return row


@router.get("/deliveries")
async def list_deliveries(caller: Caller, request: Request, platform: str | None = None, status: str | None = None,
                          cursor: str | None = None, limit: int = 50) -> dict:
    if platform is not None and platform not in mappers.PLATFORMS:
        raise Problem(422, "invalid platform", f"platform must be one of {', '.join(mappers.PLATFORMS)}")
    if status is not None and status not in STATUSES:
        raise Problem(422, "invalid status", f"status must be one of {', '.join(STATUSES)}")
    limit = clamp_limit(limit)
    after = decode_time_cursor(cursor)
    if after is not None and not is_uuid(after[1]):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        rows = await store.list_deliveries(conn, tenant=caller.tenant, platform=platform, status=status, after=after,
                                           limit=limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]["created_at"].isoformat(), str(page[-1]["id"])) if len(rows) > limit else None
    return {"items": [_delivery_view(r) for r in page], "next_cursor": next_cursor}


@router.get("/deliveries/{delivery_id}")
async def get_delivery(delivery_id: str, caller: Caller, request: Request) -> dict:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        d = await _delivery(request, caller, delivery_id, conn=conn)
        history = await store.attempts(conn, delivery_id=d["id"])
    for a in history:
        a["at"] = a["at"].isoformat()
    return {**_delivery_view(d), "sent_payload": d["sent_payload"], "history": history}


@router.post("/deliveries/{delivery_id}/replay", status_code=202)
async def replay(delivery_id: str, caller: Admin, request: Request) -> dict:
    """Push again under the SAME idempotency key: a partner that already has it answers from
    its idempotency store instead of recording a second delivery."""
    runtime = request.app.state.runtime
    now = context.of(runtime).clock()
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        d = await _delivery(request, caller, delivery_id, conn=uow.conn, lock=True, action="replay")
        if d["status"] == "pending":
            raise Problem(409, "already queued", "this delivery is pending; it will be pushed without a replay")
        await store.requeue(uow.conn, delivery_id=d["id"], now=now)
        await store.add_attempt(uow.conn, delivery_id=d["id"], kind="replay", at=now, outcome="queued", actor=caller.sub)
        d = await store.get_delivery(uow.conn, tenant=caller.tenant, delivery_id=delivery_id)
    log.info("delivery_replay_queued", delivery_id=delivery_id, tenant=caller.tenant, actor=caller.sub)
    return _delivery_view(d)


@router.get("/deliveries/{delivery_id}/preview")
async def preview(delivery_id: str, caller: Caller, request: Request) -> dict:
    """The payload the latest figures of this company-period would produce now (with the
    connection's current settings) next to the payload last sent, and their field-level diff."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        d = await _delivery(request, caller, delivery_id, conn=conn)
        latest = await store.latest_metrics(conn, tenant=caller.tenant, period=d["period"]) or d["metrics"]
        connection = await store.get_connection(conn, tenant=caller.tenant, platform=d["platform"])
    key = retry.idempotency_key(caller.tenant, d["platform"], latest["metric_id"],
                                _parse_time(latest["computed_at"]))
    would_send = mappers.map_payload(d["platform"], latest, connection["settings"] if connection else {}, key)
    return {"delivery_id": str(d["id"]), "platform": d["platform"], "payload_type": d["payload_type"],
            "based_on": {"metric_id": latest["metric_id"], "computed_at": latest["computed_at"]},
            "connected": connection is not None, "would_send": would_send, "last_sent": d["sent_payload"],
            "diff": mappers.diff(d["sent_payload"], would_send)}


class _WebhookData(BaseModel):
    externalReference: str = Field(min_length=1, max_length=200)  # noqa: N815 - Benevity's field name
    status: str = Field(min_length=1, max_length=100)


class _Webhook(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200)
    data: _WebhookData


@router.post("/webhooks/benevity/{tenant}")
async def benevity_webhook(tenant: str, request: Request) -> dict:
    """No JWT: Benevity signs the raw body with the connection's webhook secret (HMAC-SHA256,
    timing-safe compare, 5 minute tolerance). A webhook id seen before is acknowledged and ignored."""
    runtime = request.app.state.runtime
    ctx = context.of(runtime)
    raw = await request.body()
    async with runtime.pool.acquire() as conn:
        row = await store.get_connection(conn, tenant=tenant, platform="benevity")
    secrets = ctx.box.open_or_empty(row["secrets"], tenant=tenant, platform="benevity") if row else {}
    secret = secrets.get("webhook_secret")
    try:
        if not secret:  # same answer as a bad signature: no hint which tenants are connected
            raise signatures.SignatureError("signature does not match")
        signatures.verify_benevity(secret, request.headers.get("x-benevity-signature"), raw, now=ctx.clock(),
                                   tolerance_seconds=ctx.settings.webhook_tolerance_seconds)
    except signatures.SignatureError as exc:
        log.warning("webhook_rejected", tenant=tenant, platform="benevity", reason=str(exc))
        raise Problem(401, "invalid signature", str(exc)) from None
    try:
        hook = _Webhook.model_validate_json(raw)
    except ValidationError as exc:
        raise Problem(422, "invalid webhook", str(exc.errors()[0]["msg"])) from None
    now = ctx.clock()
    async with runtime.unit_of_work(tenant=tenant) as uow:
        if not await store.first_webhook(uow.conn, tenant=tenant, platform="benevity", webhook_id=hook.id, now=now):
            return {"status": "duplicate"}
        d = await store.find_by_key(uow.conn, tenant=tenant, platform="benevity", key=hook.data.externalReference,
                                    lock=True)
        if d is None:
            return {"status": "ignored", "reason": "unknown externalReference"}
        await store.set_partner_status(uow.conn, delivery_id=d["id"], status=hook.data.status, at=now)
    log.info("webhook_applied", tenant=tenant, platform="benevity", delivery_id=str(d["id"]))
    return {"status": "applied", "delivery_id": str(d["id"])}


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


