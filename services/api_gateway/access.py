"""Who is calling, may they, and the record of every refusal.

Every denial (401, 403, cross-tenant 404, 429) goes through `deny`: one row in audit_logs
and one gateway.access.denied.v1 event, committed together (outbox), then the problem is
raised. Neither carries a body, a token or an API key; the path is kept without its query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request

from services.api_gateway import domain, store
from services.api_gateway.gateway import ACCESS_DENIED, Gateway, get_gateway
from summit_common.auth import Principal
from summit_common.logs import get_logger
from summit_common.problems import Problem

log = get_logger(component="gateway.access")
API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class Caller:
    kind: str                        # 'user' (JWT) or 'api_key'
    company_id: str
    actor: str                       # JWT sub, or 'apikey:<key id>'
    role: str | None                 # membership role; None for platform-admin without one
    token_roles: frozenset[str] | None
    platform_admin: bool = False
    authorization: str | None = None  # the Authorization to send upstream instead of the client's

    @property
    def bucket_key(self) -> str:
        return f"{'k' if self.kind == 'api_key' else 'u'}:{self.actor}"


async def deny(request: Request, *, status: int, reason: str, title: str, detail: str, company_id: str | None = None,
               actor: str | None = None, headers: dict | None = None, **detail_fields) -> Problem:
    """Audit and announce a refusal; returns the Problem to raise."""
    runtime = request.app.state.runtime
    path = request.url.path[:2000]
    correlation_id = getattr(request.state, "correlation_id", None)
    try:
        async with runtime.unit_of_work(tenant=company_id or domain.NO_TENANT, correlationid=correlation_id) as uow:
            await store.insert_audit(uow.conn, company_id=company_id, actor=actor, action="access", outcome="denied",
                                     reason=reason, status=status, method=request.method, path=path,
                                     correlation_id=correlation_id, detail=detail_fields)
            uow.emit(ACCESS_DENIED, {"actor": actor, "company_id": company_id, "method": request.method, "path": path,
                                     "status": status, "reason": reason, "denied_at": datetime.now(UTC)},
                     subject=company_id)
    except Exception as exc:  # the refusal stands even when the audit cannot be written
        log.error("audit_failed", reason=reason, error=type(exc).__name__, correlation_id=correlation_id)
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is not None:
        gateway.metrics.denied(reason=reason).inc()
    log.warning("access_denied", status=status, reason=reason, tenant=company_id, actor=actor, method=request.method,
                correlation_id=correlation_id)
    if status == 404:  # indistinguishable from a resource that does not exist
        return Problem(404, title, detail)
    return Problem(status, title, detail, headers=headers, reason=reason)


# --- credentials -----------------------------------------------------------------------


async def verify_bearer(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise await deny(request, status=401, reason="missing_credentials", title="missing credentials",
                         detail="send Authorization: Bearer <jwt>" + (" or X-API-Key" if request.url.path.startswith("/api/") else ""),
                         headers={"WWW-Authenticate": "Bearer"})
    try:
        principal = request.app.state.verifier.verify(token.strip())
    except Problem as problem:
        raise await deny(request, status=401, reason="invalid_token", title="invalid token", detail=problem.detail,
                         headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    if not domain.COMPANY_ID.match(principal.tenant):
        raise await deny(request, status=401, reason="invalid_token", title="invalid token",
                         detail="the token's tenant is not a valid company id", actor=principal.sub,
                         headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.principal = principal
    return principal


async def authenticate(request: Request, gateway: Gateway) -> Caller:
    """An API key (X-API-Key) or a bearer JWT plus its membership of the token's tenant."""
    api_key = request.headers.get(API_KEY_HEADER)
    if api_key is not None:
        if "authorization" in request.headers:
            raise Problem(400, "ambiguous credentials", "send either Authorization or X-API-Key, not both")
        return await _api_key_caller(request, gateway, api_key.strip())
    principal = await verify_bearer(request)
    platform_admin = domain.PLATFORM_ADMIN in principal.roles
    role = None if platform_admin else await gateway.member_role(principal.tenant, principal.sub)
    return Caller("user", principal.tenant, principal.sub, role, principal.roles, platform_admin)


async def _api_key_caller(request: Request, gateway: Gateway, key: str) -> Caller:
    prefix = domain.api_key_prefix(key)
    info = await gateway.resolve_api_key(key) if prefix else None
    if info is None:
        raise await deny(request, status=401, reason="invalid_api_key", title="invalid API key",
                         detail="the X-API-Key is not a key of any company", actor=f"apikey:{prefix}" if prefix else None)
    if info.revoked:
        raise await deny(request, status=401, reason="revoked_api_key", title="revoked API key",
                         detail="this API key was revoked", company_id=info.company_id, actor=f"apikey:{info.key_id}")
    return Caller("api_key", info.company_id, f"apikey:{info.key_id}", info.role, None,
                  authorization=f"Bearer {gateway.upstream_token(info)}")


async def authorize(request: Request, caller: Caller, allowed_roles: frozenset[str], **detail_fields) -> None:
    decision = domain.decide(company=caller.company_id, token_roles=caller.token_roles, member_role=caller.role,
                             allowed_roles=allowed_roles, platform_admin=caller.platform_admin)
    if not decision.allowed:
        raise await deny(request, status=decision.status, reason=decision.reason, title="forbidden",
                         detail=decision.detail, company_id=caller.company_id, actor=caller.actor, **detail_fields)


# --- dependencies of the gateway's own /v1 routes ----------------------------------------


def member(*roles: str, token_claim: bool = False):
    """Dependency: a JWT caller (API keys are for proxied calls only) whose membership role in
    their token's tenant is one of `roles`. With `token_claim`, the token itself must claim
    one of them too (an admin action needs an admin token, not only an admin membership)."""
    allowed = frozenset(roles)

    async def check(request: Request) -> Principal:
        gateway = await get_gateway(request.app)
        principal = await verify_bearer(request)
        if domain.PLATFORM_ADMIN in principal.roles:
            return principal
        if token_claim and not allowed & principal.roles:
            raise await deny(request, status=403, reason="role_not_allowed", title="forbidden",
                             detail=f"this action needs a token with one of the roles: {', '.join(sorted(allowed))}",
                             company_id=principal.tenant, actor=principal.sub)
        role = await gateway.member_role(principal.tenant, principal.sub)
        caller = Caller("user", principal.tenant, principal.sub, role, principal.roles)
        await authorize(request, caller, allowed)
        return principal

    return check


async def own_company(request: Request, principal: Principal, company_id: str, resource: str) -> None:
    """Another tenant's company is a 404 (no existence leak), audited and announced."""
    if principal.can_see(company_id):
        return
    raise await deny(request, status=404, reason="cross_tenant", title="not found", detail=f"{resource} does not exist",
                     company_id=principal.tenant, actor=principal.sub, target_company=company_id)
