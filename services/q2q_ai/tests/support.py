"""Helpers for q2q-ai integration tests: event factories, publishing, and readers for the
items, scores and events the service produced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from services.q2q_ai.handlers import EVIDENCE_RECORDED, OUTCOME_SCORED
from summit_common.auth import mint_token
from summit_common.runtime import ServiceRuntime
from summit_contracts import CloudEvent, new_event
from tests.helpers import eventually, read_subject

TENANT = "acme"
OTHER_TENANT = "globex"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

FEEDBACK = "buddy.feedback.submitted.v1"
CHECKIN = "buddy.checkin.completed.v1"
SESSION = "kintell.session.completed.v1"
RATING = "kintell.rating.created.v1"
SCREENED = "safety.text.screened.v1"
REVIEWED = "safety.review.completed.v1"


def auth(settings, *, tenant: str = TENANT, roles: tuple[str, ...] = ("company_user",), sub: str = "u1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=roles)}"}


def ref(system: str, external_id: str) -> dict[str, str]:
    return {"system": system, "id": external_id}


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def feedback(feedback_id: str, text: str | None, *, participant: dict | None = None, minute: int = 0) -> dict[str, Any]:
    return {"feedback_id": feedback_id, "match_id": "M-1", "participant": participant or ref("buddy", "B-1"),
            "from_role": "participant", "rating": 4, "text": text, "submitted_at": at(minute)}


def checkin(checkin_id: str, notes: str | None, *, participant: dict | None = None, minute: int = 0) -> dict[str, Any]:
    return {"checkin_id": checkin_id, "match_id": "M-1", "participant": participant or ref("buddy", "B-1"),
            "completed_at": at(minute), "mood": 3, "notes": notes}


def session(session_id: str, notes: str | None, *, participant: dict | None = None, minute: int = 0,
            volunteer: str = "ingrid.hansen") -> dict[str, Any]:
    return {"session_id": session_id, "session_type": "language", "participant": participant or ref("kintell", "K-1"),
            "volunteer": ref("kintell", volunteer), "started_at": at(minute), "duration_minutes": 45,
            "language": "nb", "level": "B1", "notes": notes}


def rating(rating_id: str, comment: str | None, *, rated_by: dict | None = None, role: str = "participant",
           minute: int = 0) -> dict[str, Any]:
    return {"rating_id": rating_id, "session_id": "S-1", "rated_by": rated_by or ref("kintell", "K-1"),
            "rater_role": role, "score": 5, "comment": comment, "created_at": at(minute)}


def screened(content_type: str, content_id: str, verdict: str, flag_id: str | None = None) -> dict[str, Any]:
    return {"content_type": content_type, "content_id": content_id, "verdict": verdict, "flag_id": flag_id,
            "policy_version": "policy-1", "screened_at": at(1)}


def reviewed(flag_id: str, content_id: str, decision: str) -> dict[str, Any]:
    return {"flag_id": flag_id, "content_id": content_id, "decision": decision, "reviewer": "reviewer-7",
            "reviewed_at": at(2)}


async def publish(js, runtime: ServiceRuntime, event_type: str, data: dict, *, tenant: str = TENANT,
                  msg_id: str | None = None, event: CloudEvent | None = None) -> CloudEvent:
    event = event or new_event(event_type, data, source="test", tenantid=tenant)
    await js.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": msg_id or event.msg_id})
    return event


async def item(runtime: ServiceRuntime, content_type: str, content_id: str, *, tenant: str = TENANT) -> dict | None:
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT * FROM text_items WHERE tenant_id = $1 AND content_type = $2 AND content_id = $3",
            tenant, content_type, content_id)
    return dict(row) if row else None


async def wait_status(runtime: ServiceRuntime, content_type: str, content_id: str, status: str, *,
                      tenant: str = TENANT) -> dict:
    async def reached():
        found = await item(runtime, content_type, content_id, tenant=tenant)
        return found if found and found["status"] == status else None

    return await eventually(reached, timeout=30)


async def handled(runtime: ServiceRuntime, event: CloudEvent) -> None:
    """Wait until the service's inbox holds this event (it was processed, whatever it did)."""
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 1 FROM inbox WHERE msg_key = $1", event.msg_id),
                         timeout=30)


async def count(runtime: ServiceRuntime, table: str) -> int:
    async with runtime.pool.acquire() as conn:
        return await conn.fetchval(f"SELECT count(*) FROM {table}")


async def outbox_flushed(runtime: ServiceRuntime) -> None:
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"), timeout=30)


async def emitted(js, runtime: ServiceRuntime, *, at_least: int = 0, event_type: str = OUTCOME_SCORED) -> list[dict]:
    """Every q2q.outcome.scored.v1 (or `event_type`) this test's service published."""
    await outbox_flushed(runtime)
    msgs = await read_subject(js, runtime.naming.stream("q2q"), runtime.naming.subject(event_type), at_least=at_least)
    return [json.loads(m.data) for m in msgs]


async def evidence_emitted(js, runtime: ServiceRuntime, *, at_least: int = 0) -> list[dict]:
    return await emitted(js, runtime, at_least=at_least, event_type=EVIDENCE_RECORDED)


async def outcomes(client, settings, *, tenant: str = TENANT, **params) -> list[dict]:
    r = await client.get("/v1/outcomes", params={"limit": 200, **params}, headers=auth(settings, tenant=tenant))
    assert r.status_code == 200, r.text
    return r.json()["items"]
