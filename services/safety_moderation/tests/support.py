"""Helpers for the integration tests: tokens, publishing, waiting for screenings and flags,
and reading the events the service emitted."""

from __future__ import annotations

import json

from services.safety_moderation.tests.factories import event_data
from summit_common.auth import mint_token
from summit_common.runtime import ServiceRuntime
from summit_contracts import CloudEvent, new_event
from tests.helpers import eventually, read_subject

TENANT = "acme"
OTHER_TENANT = "globex"
FEEDBACK = "buddy.feedback.submitted.v1"
TEXT_SCREENED = "safety.text.screened.v1"
FLAG_RAISED = "safety.flag.raised.v1"
REVIEW_COMPLETED = "safety.review.completed.v1"
PROBLEM = "application/problem+json"
SELF_HARM = "Some days I feel like I want to kill myself, nobody would notice."


def auth(settings, *, tenant: str = TENANT, roles: tuple[str, ...] = ("reviewer",), sub: str = "rev-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=roles)}"}


async def publish(js, runtime: ServiceRuntime, event: CloudEvent, *, msg_id: str | None = None) -> CloudEvent:
    await js.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": msg_id or event.msg_id})
    return event


async def publish_text(js, runtime: ServiceRuntime, content_id: str, text: str | None, *, event_type: str = FEEDBACK,
                       tenant: str = TENANT, **overrides) -> CloudEvent:
    event = new_event(event_type, event_data(event_type, content_id, text, **overrides), source="test", tenantid=tenant)
    return await publish(js, runtime, event)


async def screened(runtime: ServiceRuntime, content_id: str, *, tenant: str = TENANT, at_least: int = 1) -> list[dict]:
    """Wait until `content_id` has `at_least` screenings (committed); returns them."""

    async def rows():
        async with runtime.pool.acquire() as conn:
            found = await conn.fetch(
                "SELECT * FROM screenings WHERE tenant_id = $1 AND content_id = $2 ORDER BY screened_at", tenant, content_id
            )
        return [dict(r) for r in found] if len(found) >= at_least else None

    return await eventually(rows, timeout=30)


async def outbox_flushed(runtime: ServiceRuntime) -> None:
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"), timeout=30)


async def emitted(js, runtime: ServiceRuntime, event_type: str, *, at_least: int = 0, **data_filter) -> list[dict]:
    """The CloudEvents of `event_type` on the bus whose data match `data_filter`, after the outbox is flushed."""
    await outbox_flushed(runtime)
    msgs = await read_subject(js, runtime.naming.stream("safety"), runtime.naming.subject(event_type), at_least=at_least)
    events = [json.loads(m.data) for m in msgs]
    return [e for e in events if all(e["data"].get(k) == v for k, v in data_filter.items())]


async def held_flag(js, runtime: ServiceRuntime, client, settings, content_id: str, text: str = SELF_HARM, *,
                    tenant: str = TENANT) -> dict:
    """Publish a feedback that the default policy holds; returns its review item (full view)."""
    await publish_text(js, runtime, content_id, text, tenant=tenant)
    [row] = await screened(runtime, content_id, tenant=tenant)
    assert row["verdict"] == "held", row
    r = await client.get(f"/v1/reviews/{row['flag_id']}", headers=auth(settings, tenant=tenant))
    assert r.status_code == 200, r.text
    return r.json()


async def count(runtime: ServiceRuntime, table: str) -> int:
    async with runtime.pool.acquire() as conn:
        return await conn.fetchval(f"SELECT count(*) FROM {table}")
