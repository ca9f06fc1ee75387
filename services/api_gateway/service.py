"""Declares the api-gateway: the front door of the platform.

Consumes: gateway.membership.changed.v1 (its own; invalidates the shared membership cache).
Emits: gateway.membership.changed.v1, gateway.access.denied.v1.
Routes: /api/... (reverse proxy), /health/*, /v1/companies..., /v1/api-keys..., /v1/audit-logs.
"""

import os
from pathlib import Path

from services.api_gateway import api, handlers
from services.api_gateway.config import DEFAULT_ROUTES
from services.api_gateway.gateway import ACCESS_DENIED, MEMBERSHIP_CHANGED, load_rules
from summit_common import Service

# Broken route rules fail the start, not the first request.
load_rules(Path(os.environ.get("GATEWAY_ROUTES_FILE") or DEFAULT_ROUTES))

service = Service(
    name="api-gateway",
    description="Front door: JWT/API-key auth, tenant membership (RBAC), rate limits, reverse proxy, health of all services",
    handlers={MEMBERSHIP_CHANGED: handlers.on_membership_changed},
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=(MEMBERSHIP_CHANGED, ACCESS_DENIED),
)
