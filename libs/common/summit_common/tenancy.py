"""Tenant scoping helpers. Another tenant's resource is a 404 (no existence leak), and
the attempt is written to the service's audit log."""

from __future__ import annotations

import json

import asyncpg

from summit_common.auth import Principal
from summit_common.logs import get_logger
from summit_common.problems import Problem

log = get_logger(component="tenancy")


async def audit(conn: asyncpg.Connection | asyncpg.Pool, *, principal: Principal | None, action: str, resource: str, outcome: str, **detail) -> None:
    await conn.execute(
        "INSERT INTO audit_log (tenant_id, actor, action, resource, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        principal.tenant if principal else None,
        principal.sub if principal else None,
        action,
        resource,
        outcome,
        json.dumps(detail),
    )


async def not_found(pool: asyncpg.Pool, principal: Principal, resource: str, *, owner_tenant: str | None, action: str = "read") -> Problem:
    """The 404 to raise for a missing resource; audits it when it exists in another tenant."""
    if owner_tenant is not None and owner_tenant != principal.tenant:
        log.warning("cross_tenant_denied", actor=principal.sub, tenant=principal.tenant, resource=resource, action=action)
        await audit(pool, principal=principal, action=action, resource=resource, outcome="denied_cross_tenant")
    return Problem(404, "not found", f"{resource} does not exist")
