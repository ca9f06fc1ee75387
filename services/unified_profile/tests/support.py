"""Helpers for the integration tests: tokens, publishing, reading the profile and the emitted events."""

from __future__ import annotations

import json

from services.unified_profile.profiles import MILESTONE_REACHED, PROFILE_UPDATED
from services.unified_profile.tests.factories import event_data
from summit_common.auth import mint_token
from summit_common.runtime import ServiceRuntime
from summit_contracts import CloudEvent, new_event
from tests.helpers import eventually, read_subject

TENANT = "acme"
OTHER_TENANT = "globex"


def auth(settings, *, tenant: str = TENANT, roles: tuple[str, ...] = ("company_user",), sub: str = "u1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=roles)}"}


async def publish(js, runtime: ServiceRuntime, event: CloudEvent, *, msg_id: str | None = None) -> CloudEvent:
    await js.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": msg_id or event.msg_id})
    return event


async def publish_fact(js, runtime: ServiceRuntime, event_type: str, participant: dict, fact: str, *, minute: int = 0,
                       tenant: str = TENANT, **overrides) -> CloudEvent:
    event = new_event(event_type, event_data(event_type, participant, fact, minute, **overrides), source="test", tenantid=tenant)
    return await publish(js, runtime, event)


async def lookup(client, settings, system: str, external_id: str, *, tenant: str = TENANT) -> dict | None:
    r = await client.get("/v1/profiles", params={"system": system, "external_id": external_id},
                         headers=auth(settings, tenant=tenant))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) <= 1
    return items[0] if items else None


async def wait_for_profile(client, settings, system: str, external_id: str, check, *, tenant: str = TENANT) -> dict:
    """Poll the identity lookup until `check(profile)` holds; returns the full profile (GET by id)."""

    async def ready():
        found = await lookup(client, settings, system, external_id, tenant=tenant)
        return found if found and check(found) else None

    found = await eventually(ready, timeout=30)
    r = await client.get(f"/v1/profiles/{found['profile_id']}", headers=auth(settings, tenant=tenant))
    assert r.status_code == 200, r.text
    return r.json()


async def outbox_flushed(runtime: ServiceRuntime) -> None:
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))


async def emitted(js, runtime: ServiceRuntime, event_type: str, *, at_least: int = 0, profile_id: str | None = None) -> list[dict]:
    """The CloudEvents of `event_type` on the bus (optionally of one profile), after the outbox is flushed."""
    await outbox_flushed(runtime)
    msgs = await read_subject(js, runtime.naming.stream("orchestration"), runtime.naming.subject(event_type), at_least=at_least)
    events = [json.loads(m.data) for m in msgs]
    return [e for e in events if profile_id is None or e["data"]["profile_id"] == profile_id]


async def updates_of(js, runtime: ServiceRuntime, profile_id: str, *, at_least: int = 0) -> list[dict]:
    return await emitted(js, runtime, PROFILE_UPDATED, at_least=at_least, profile_id=profile_id)


async def milestones_of(js, runtime: ServiceRuntime, profile_id: str, *, at_least: int = 0) -> list[dict]:
    return await emitted(js, runtime, MILESTONE_REACHED, at_least=at_least, profile_id=profile_id)
