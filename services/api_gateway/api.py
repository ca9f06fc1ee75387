"""HTTP routes of the api-gateway.

/api/...        the reverse proxy (JWT or X-API-Key; membership, route roles, rate limits)
/health/all     readiness of every upstream, unauthenticated, up/down only
/health/{name}  readiness of one
/v1/...         companies, memberships, API keys and the audit trail (JWT, membership role admin)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from services.api_gateway import domain, store
from services.api_gateway.access import authenticate, authorize, deny, member, own_company, verify_bearer
from services.api_gateway.gateway import MEMBERSHIP_CHANGED, get_gateway
from summit_common import UnitOfWork
from summit_common.auth import Principal
from summit_common.pagination import clamp_limit, decode_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts.events.common import NonEmpty

router = APIRouter()
v1 = APIRouter(prefix="/v1", tags=["api-gateway"])

Role = Literal["admin", "company_user", "participant"]
CompanyId = Annotated[str, StringConstraints(pattern=domain.COMPANY_ID.pattern)]
Admin = Annotated[Principal, Depends(member(domain.ADMIN, token_claim=True))]
Member = Annotated[Principal, Depends(member(*domain.ROLES))]


class CompanyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_id: CompanyId
    name: NonEmpty
    admin_user_id: NonEmpty | None = None


class MemberUpsert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: NonEmpty
    role: Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonEmpty
    role: Role = "company_user"


# --- the proxy -------------------------------------------------------------------------

PROXY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


async def proxy(path: str, request: Request) -> Response:
    """Authenticate, check membership and the route's roles, take rate-limit tokens, forward."""
    gateway = await get_gateway(request.app)
    public_path = request.scope["path"]
    if domain.unsafe_path(public_path):
        raise Problem(400, "invalid path", "dot segments, backslashes and control characters are not allowed in proxied paths")
    rule = domain.match_route(gateway.table, public_path)
    if rule is not None and rule.public:
        return await _forward_public(request, gateway, rule)
    caller = await authenticate(request, gateway)
    if rule is None:
        raise Problem(404, "no route", f"no upstream serves {public_path}",
                      known_prefixes=sorted(r.prefix for r in gateway.table.rules))
    await authorize(request, caller, rule.roles, route=rule.prefix)
    verdict = await gateway.take_tokens(rule, caller.company_id, caller.bucket_key)
    if not verdict.allowed:
        retry = domain.retry_after_header(verdict.retry_after)
        raise await deny(request, status=429, reason="rate_limited", title="too many requests",
                         detail=f"rate limit of class {rule.rate_class} reached; retry in {retry} s",
                         company_id=caller.company_id, actor=caller.actor, headers={"Retry-After": retry},
                         route=rule.prefix, rate_class=rule.rate_class)
    # The chassis's access-log line for this request carries these too (one line per request:
    # each log line is a write to stderr). They live in this request's context only.
    structlog.contextvars.bind_contextvars(upstream=rule.service, route_prefix=rule.prefix, tenant=caller.company_id,
                                           actor=caller.actor)
    return await gateway.forward(request, rule, authorization=caller.authorization)


async def _forward_public(request: Request, gateway, rule: domain.RouteRule) -> Response:
    """A route whose upstream authenticates the request itself: rate-limited per client address."""
    client = request.client.host if request.client else "unknown"
    verdict = await gateway.take_tokens(rule, f"public:{rule.prefix}", f"addr:{client}")
    if not verdict.allowed:
        retry = domain.retry_after_header(verdict.retry_after)
        raise Problem(429, "too many requests", f"rate limit of class {rule.rate_class} reached; retry in {retry} s",
                      headers={"Retry-After": retry})
    structlog.contextvars.bind_contextvars(upstream=rule.service, route_prefix=rule.prefix)
    return await gateway.forward(request, rule, authorization="")  # "": never forward a caller's token


for _method in PROXY_METHODS:
    router.add_api_route("/api/{path:path}", proxy, methods=[_method], name=f"proxy_{_method.lower()}",
                         tags=["proxy"], include_in_schema=_method not in ("HEAD", "OPTIONS"),
                         summary=f"{_method} through the gateway (see routes.yaml)")


# --- health ----------------------------------------------------------------------------


@router.get("/health/all", tags=["ops"])
async def health_all(request: Request) -> JSONResponse:
    """Readiness of the gateway and every upstream: 200 when all are ready, else 503.
    Unauthenticated like /healthz: it tells only up or down per service."""
    gateway = await get_gateway(request.app)
    code, body = await gateway.health_all()
    return JSONResponse(body, status_code=code)


@router.get("/health/{service}", tags=["ops"])
async def health_one(service: str, request: Request) -> JSONResponse:
    gateway = await get_gateway(request.app)
    if service != "api-gateway" and service not in gateway.health_targets():
        raise Problem(404, "unknown service", f"the gateway knows no service {service!r}")
    status = await gateway.service_health(service)
    return JSONResponse({"service": service, "status": status}, status_code=200 if status == "ready" else 503)


# --- companies and memberships ---------------------------------------------------------


def _change_event(uow: UnitOfWork, *, company_id: str, user_id: str, change: str, role: str | None) -> None:
    uow.emit(MEMBERSHIP_CHANGED, {"user_id": user_id, "company_id": company_id, "change": change, "role": role,
                                  "changed_at": datetime.now(UTC)}, subject=user_id, tenant=company_id)


async def _audit_change(uow: UnitOfWork, request: Request, *, company_id: str, actor: str, action: str, **detail) -> None:
    await store.insert_audit(uow.conn, company_id=company_id, actor=actor, action=action, outcome="changed",
                             reason=action, method=request.method, path=request.url.path[:2000],
                             correlation_id=request.state.correlation_id, detail=detail)


@v1.post("/companies", status_code=201)
async def create_company(body: CompanyCreate, request: Request) -> dict:
    """Register a company (tenant). A company admin registers their own token's tenant and
    becomes its first admin; platform-admin registers any, with `admin_user_id` optionally."""
    gateway = await get_gateway(request.app)
    principal = await verify_bearer(request)
    platform = domain.PLATFORM_ADMIN in principal.roles
    if not platform and domain.ADMIN not in principal.roles:
        raise await deny(request, status=403, reason="role_not_allowed", title="forbidden",
                         detail="registering a company needs a token with the role admin",
                         company_id=principal.tenant, actor=principal.sub)
    if not platform and body.company_id != principal.tenant:
        raise await deny(request, status=403, reason="not_your_tenant", title="forbidden",
                         detail=f"you can register only your own tenant ({principal.tenant})",
                         company_id=principal.tenant, actor=principal.sub, target_company=body.company_id)
    first_admin = body.admin_user_id or (None if platform else principal.sub)
    async with request.app.state.runtime.unit_of_work(tenant=body.company_id, correlationid=request.state.correlation_id) as uow:
        if not await store.insert_company(uow.conn, company_id=body.company_id, name=body.name, created_by=principal.sub):
            raise Problem(409, "company exists", f"company {body.company_id} is already registered")
        await _audit_change(uow, request, company_id=body.company_id, actor=principal.sub, action="company.created")
        if first_admin:
            await store.upsert_member(uow.conn, company_id=body.company_id, user_id=first_admin, role=domain.ADMIN,
                                      added_by=principal.sub)
            _change_event(uow, company_id=body.company_id, user_id=first_admin, change="added", role=domain.ADMIN)
            await _audit_change(uow, request, company_id=body.company_id, actor=principal.sub, action="membership.added",
                                user_id=first_admin, role=domain.ADMIN)
        company = await store.get_company(uow.conn, company_id=body.company_id)
    if first_admin:  # a negative answer may be cached from before the company existed
        await gateway.invalidate_membership(body.company_id, first_admin, source="local")
    return company


@v1.get("/companies/{company_id}")
async def get_company(company_id: str, caller: Member, request: Request) -> dict:
    """The company, its member count and active API key count (any member)."""
    await own_company(request, caller, company_id, f"company {company_id}")
    async with request.app.state.runtime.pool.acquire() as conn:
        company = await store.get_company(conn, company_id=company_id)
    if company is None:
        raise Problem(404, "not found", f"company {company_id} does not exist")
    return company


@v1.get("/companies/{company_id}/users")
async def list_members(company_id: str, caller: Admin, request: Request, limit: int = 50, cursor: str | None = None) -> dict:
    """Members in user id order; cursor pagination."""
    await own_company(request, caller, company_id, f"company {company_id}")
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await store.list_members(conn, company_id=company_id, limit=limit + 1, after_user_id=after[0] if after else None)
    page = rows[:limit]
    return {"items": page, "next_cursor": encode_cursor(page[-1]["user_id"]) if len(rows) > limit else None}


@v1.post("/companies/{company_id}/users", status_code=201)
async def upsert_member(company_id: str, body: MemberUpsert, caller: Admin, request: Request, response: Response) -> dict:
    """Add a member (201) or change their role (200). Emits gateway.membership.changed.v1
    (added / role_changed) with the change; repeating the same role changes nothing (200).
    Demoting the last admin is a 409."""
    gateway = await get_gateway(request.app)
    await own_company(request, caller, company_id, f"company {company_id}")
    async with request.app.state.runtime.unit_of_work(tenant=company_id, correlationid=request.state.correlation_id) as uow:
        if await store.lock_company(uow.conn, company_id=company_id) is None:
            raise Problem(404, "not found", f"company {company_id} does not exist")
        change, previous = await store.upsert_member(uow.conn, company_id=company_id, user_id=body.user_id, role=body.role,
                                                     added_by=caller.sub)
        if previous == domain.ADMIN and body.role != domain.ADMIN and await store.count_admins(uow.conn, company_id=company_id) == 0:
            raise Problem(409, "last admin", f"{body.user_id} is the last admin of {company_id}; make someone else admin first")
        if change != "unchanged":
            _change_event(uow, company_id=company_id, user_id=body.user_id, change=change, role=body.role)
            await _audit_change(uow, request, company_id=company_id, actor=caller.sub, action=f"membership.{change}",
                                user_id=body.user_id, role=body.role, previous_role=previous)
    if change != "unchanged":
        await gateway.invalidate_membership(company_id, body.user_id, source="local")
    if change != "added":
        response.status_code = 200
    return {"company_id": company_id, "user_id": body.user_id, "role": body.role, "change": change, "previous_role": previous}


@v1.delete("/companies/{company_id}/users/{user_id}", status_code=204)
async def remove_member(company_id: str, user_id: str, caller: Admin, request: Request) -> Response:
    """Remove a member. Emits gateway.membership.changed.v1 (removed). Not a member: 404;
    the last admin: 409."""
    gateway = await get_gateway(request.app)
    await own_company(request, caller, company_id, f"company {company_id}")
    async with request.app.state.runtime.unit_of_work(tenant=company_id, correlationid=request.state.correlation_id) as uow:
        if await store.lock_company(uow.conn, company_id=company_id) is None:
            raise Problem(404, "not found", f"company {company_id} does not exist")
        role = await store.delete_member(uow.conn, company_id=company_id, user_id=user_id)
        if role is None:
            raise Problem(404, "not found", f"{user_id} is not a member of {company_id}")
        if role == domain.ADMIN and await store.count_admins(uow.conn, company_id=company_id) == 0:
            raise Problem(409, "last admin", f"{user_id} is the last admin of {company_id}; make someone else admin first")
        _change_event(uow, company_id=company_id, user_id=user_id, change="removed", role=None)
        await _audit_change(uow, request, company_id=company_id, actor=caller.sub, action="membership.removed",
                            user_id=user_id, previous_role=role)
    await gateway.invalidate_membership(company_id, user_id, source="local")
    return Response(status_code=204)


# --- API keys --------------------------------------------------------------------------


def _key_view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("key_id", "company_id", "name", "key_prefix", "role", "created_by", "created_at",
                                "revoked_at", "revoked_by")}


@v1.post("/api-keys", status_code=201)
async def create_api_key(body: ApiKeyCreate, caller: Admin, request: Request, response: Response) -> dict:
    """A new API key for the caller's company. The key is in this answer only: the gateway
    keeps its sha256 and the visible prefix. Send it as X-API-Key on /api/... routes."""
    issued = domain.new_api_key()
    async with request.app.state.runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        if await store.lock_company(uow.conn, company_id=caller.tenant) is None:
            raise Problem(404, "not found", f"company {caller.tenant} is not registered")
        row = await store.insert_api_key(uow.conn, key_id=uuid.uuid4(), company_id=caller.tenant, name=body.name,
                                         key_prefix=issued.prefix, key_hash=issued.sha256, role=body.role,
                                         created_by=caller.sub)
        await _audit_change(uow, request, company_id=caller.tenant, actor=caller.sub, action="api_key.created",
                            key_id=str(row["key_id"]), key_prefix=issued.prefix, role=body.role)
    response.headers["Cache-Control"] = "no-store"
    return {**_key_view(row), "key": issued.key}


@v1.get("/api-keys")
async def list_api_keys(caller: Admin, request: Request, limit: int = 50, cursor: str | None = None) -> dict:
    """The company's keys (never the keys themselves), oldest first, revoked ones included."""
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    parsed = None
    if after is not None:
        try:
            parsed = (datetime.fromisoformat(after[0]), uuid.UUID(after[1]))
        except (ValueError, TypeError, IndexError):
            raise Problem(400, "invalid cursor", "the cursor is not one this API returned") from None
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await store.list_api_keys(conn, company_id=caller.tenant, limit=limit + 1, after=parsed)
    page = [_key_view(r) for r in rows[:limit]]
    last = page[-1] if page else None
    return {"items": page,
            "next_cursor": encode_cursor(last["created_at"].isoformat(), str(last["key_id"])) if len(rows) > limit else None}


@v1.delete("/api-keys/{key_id}", status_code=204)
async def revoke_api_key(key_id: str, caller: Admin, request: Request) -> Response:
    """Revoke a key of the caller's company (idempotent). It stops working at once on this
    replica and with a Redis cache; other replicas' in-process caches forget it within
    GATEWAY_API_KEY_CACHE_SECONDS."""
    gateway = await get_gateway(request.app)
    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        raise Problem(404, "not found", f"API key {key_id} does not exist") from None
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        owner = await store.api_key_company(conn, key_id=parsed)
    if owner is not None and not caller.can_see(owner):
        raise await deny(request, status=404, reason="cross_tenant", title="not found", detail=f"API key {key_id} does not exist",
                         company_id=caller.tenant, actor=caller.sub, target_company=owner, key_id=key_id)
    if owner is None:
        raise Problem(404, "not found", f"API key {key_id} does not exist")
    async with runtime.unit_of_work(tenant=owner, correlationid=request.state.correlation_id) as uow:
        revoked = await store.revoke_api_key(uow.conn, company_id=owner, key_id=parsed, revoked_by=caller.sub)
        if revoked is None:  # deleted with its company meanwhile
            raise Problem(404, "not found", f"API key {key_id} does not exist")
        row, newly = revoked
        if newly:
            await _audit_change(uow, request, company_id=owner, actor=caller.sub, action="api_key.revoked",
                                key_id=key_id, key_prefix=row["key_prefix"])
    await gateway.forget_api_key(row["key_hash"])
    return Response(status_code=204)


# --- audit trail -----------------------------------------------------------------------


@v1.get("/audit-logs")
async def list_audit_logs(caller: Admin, request: Request, outcome: Literal["denied", "changed"] | None = None,
                          limit: int = 50, cursor: str | None = None) -> dict:
    """The company's audit trail, newest first: denied access and membership / key changes."""
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await store.list_audit(conn, company_id=caller.tenant, limit=limit + 1, before_id=after[0] if after else None,
                                      outcome=outcome)
    page = rows[:limit]
    return {"items": page, "next_cursor": encode_cursor(page[-1]["id"]) if len(rows) > limit else None}


router.include_router(v1)
