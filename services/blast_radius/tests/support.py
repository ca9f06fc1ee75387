"""Helpers for blast-radius integration tests: tokens, publishing decisions, reading signals and rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from services.blast_radius.domain import READINESS_SIGNALED
from summit_common.auth import mint_token
from summit_common.runtime import ServiceRuntime
from summit_contracts import CloudEvent, new_event
from tests.helpers import eventually, read_subject

TENANT = "acme"
OTHER = "globex"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def auth(settings, *, tenant: str = TENANT, roles: tuple[str, ...] = ("ci",), sub: str = "ci-bot") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=roles)}"}


async def publish(js, runtime: ServiceRuntime, event: CloudEvent, *, msg_id: str | None = None) -> CloudEvent:
    await js.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": msg_id or event.msg_id})
    return event


def decision(proposal_id: str, contract: str, verdict: str = "approved", *, minutes: int = 0, breaking: bool = True,
             tenant: str = TENANT, **overrides) -> CloudEvent:
    data = {"proposal_id": proposal_id, "kind": "jsonschema", "contract": contract, "decision": verdict, "breaking": breaking,
            "decided_by": "council", "decided_at": (T0 + timedelta(minutes=minutes)).isoformat(), **overrides}
    return new_event("governance.proposal.decided.v1", data, source="test-council", tenantid=tenant)


async def outbox_flushed(runtime: ServiceRuntime) -> None:
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))


async def signals(js, runtime: ServiceRuntime, *, at_least: int = 0) -> list[dict]:
    """Every readiness signal the service published (after its outbox is flushed)."""
    await outbox_flushed(runtime)
    msgs = await read_subject(js, runtime.naming.stream("governance"), runtime.naming.subject(READINESS_SIGNALED), at_least=at_least)
    return [json.loads(m.data) for m in msgs]


async def count(runtime: ServiceRuntime, table: str) -> int:
    async with runtime.pool.acquire() as conn:
        return await conn.fetchval(f"SELECT count(*) FROM {table}")
