"""Helpers for schema-council integration tests: tokens, proposal bodies, and readers for
the rows and events the service produced."""

from __future__ import annotations

import copy
import json
from typing import Any

from summit_common.auth import mint_token
from summit_contracts import REGISTRY
from tests.helpers import read_subject

PROBLEM = "application/problem+json"
EVENT = "governance.docs.coverage.reported.v1"  # a platform event contract the tests propose changes to


def auth(settings, *, tenant: str = "acme", sub: str = "alice", roles: tuple[str, ...] = ("company_user",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=list(roles))}"}


def reviewer(settings, *, tenant: str = "acme", sub: str = "bob") -> dict[str, str]:
    return auth(settings, tenant=tenant, sub=sub, roles=("schema_reviewer",))


def admin(settings, *, tenant: str = "acme", sub: str = "carol") -> dict[str, str]:
    return auth(settings, tenant=tenant, sub=sub, roles=("admin",))


def event_schema(event_type: str = EVENT) -> dict[str, Any]:
    return copy.deepcopy(REGISTRY.get(event_type).json_schema())


def compatible_change(event_type: str = EVENT) -> dict[str, Any]:
    schema = event_schema(event_type)
    schema["properties"]["branch"] = {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}], "default": None}
    return schema


def breaking_change(event_type: str = EVENT) -> dict[str, Any]:
    schema = event_schema(event_type)
    schema["properties"]["branch"] = {"type": "string", "maxLength": 200}
    schema["required"].append("branch")
    return schema


def proposal(**overrides) -> dict[str, Any]:
    body = {
        "kind": "jsonschema",
        "contract": EVENT,
        "title": "Report the branch with docs coverage",
        "owner": "docs-hub",
        "rationale": "coverage differs per branch",
        "target_date": "2030-01-31",
        "proposed": compatible_change(),
    }
    body.update(overrides)
    return body


SDL_V1 = "type Query { partner(id: ID!): Partner }\ntype Partner { id: ID! name: String! tier: Int }\n"
SDL_V2 = SDL_V1.replace("tier: Int ", "tier: Int region: String ")
SDL_BREAKING = SDL_V1.replace("name: String! ", "")


async def create(client, settings, *, headers: dict | None = None, **overrides) -> dict[str, Any]:
    r = await client.post("/v1/proposals", json=proposal(**overrides), headers=headers or auth(settings))
    assert r.status_code == 201, r.text
    return r.json()


async def move(client, settings, proposal_id: str, to: str, headers: dict, **extra):
    return await client.post(f"/v1/proposals/{proposal_id}/transition", json={"to": to, **extra}, headers=headers)


async def events(bus, runtime, event_type: str, *, at_least: int = 0) -> list[dict]:
    """Every event of `event_type` this test's service published (the outbox relays after commit)."""
    msgs = await read_subject(bus, runtime.naming.stream("governance"), runtime.naming.subject(event_type),
                              at_least=at_least)
    return [json.loads(m.data) for m in msgs]


async def count(runtime, table: str) -> int:
    async with runtime.pool.acquire() as conn:
        return await conn.fetchval(f"SELECT count(*) FROM {table}")


async def audit_log(runtime) -> list[tuple]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT tenant_id, actor, action, resource, outcome FROM audit_log ORDER BY id")
    return [tuple(r) for r in rows]
