"""Webhooks over real NATS + Postgres: HMAC over timestamp, tenant and raw body; replay window;
per-tenant secrets; idempotent redelivery; ratings need a completed session."""

from __future__ import annotations

import json
import time

import pytest

from services.kintell_connector import domain
from services.kintell_connector.tests.support import (
    BETA_SECRET,
    WEBHOOK_SECRET,
    auth,
    count,
    events,
    post_webhook,
    signed_headers,
)

pytestmark = pytest.mark.integration

SESSION = {
    "session_id": "W-1", "session_type": "Language Session", "status": "completed", "participant_id": "P-1",
    "volunteer_id": "V-1", "start": "2024-03-04T14:00:00Z", "duration_minutes": 45, "language": "Ukrainian",
    "level": "b2", "topics": ["housing", "work"], "notes": "good progress",
}
RATING = {"session_id": "W-1", "rater_role": "participant", "score": 5, "comment": "Thanks!", "created_at": "2024-03-04T15:00:00Z"}


async def test_signed_session_webhook_is_stored_and_emits(client, runtime, bus, settings):
    r = await post_webhook(client, "session", SESSION)
    assert r.status_code == 200, r.text
    assert r.json() == {"session_id": "W-1", "result": "created"}
    [event] = await events(bus, runtime, "kintell.session.completed.v1", at_least=1)
    assert event["subject"] == "W-1" and event["tenantid"] == "acme"
    assert event["data"]["language"] == "uk" and event["data"]["level"] == "B2"
    assert event["data"]["topics"] == ["housing", "work"]
    got = (await client.get("/v1/sessions/W-1", headers=auth(settings))).json()
    assert (got["origin"], got["status"], got["import_id"]) == ("webhook", "completed", None)


async def test_repeated_delivery_is_idempotent(client, runtime, bus):
    assert (await post_webhook(client, "session", SESSION)).json()["result"] == "created"
    outbox = await count(runtime, "outbox")
    again = await post_webhook(client, "session", SESSION)
    assert again.status_code == 200 and again.json()["result"] == "duplicate"
    assert await count(runtime, "outbox") == outbox
    assert await count(runtime, "kintell_sessions") == 1
    assert len(await events(bus, runtime, "kintell.session.completed.v1", at_least=1)) == 1


async def test_scheduled_then_completed_by_webhook(client, runtime, bus):
    booked = {**SESSION, "status": "booked", "duration_minutes": None}
    assert (await post_webhook(client, "session", booked)).json()["result"] == "created"
    assert (await post_webhook(client, "session", SESSION)).json()["result"] == "updated"
    stream = await events(bus, runtime, "kintell.session.>", at_least=2)
    assert [e["type"] for e in stream] == ["kintell.session.scheduled.v1", "kintell.session.completed.v1"]
    cancelled = await post_webhook(client, "session", {**SESSION, "status": "cancelled"})
    assert cancelled.status_code == 409
    assert "already completed" in cancelled.json()["detail"]


@pytest.mark.parametrize(
    "case",
    ["wrong-secret", "tampered-body", "other-tenant-header", "no-signature", "no-tenant", "malformed-signature", "jwt-only"],
)
async def test_bad_signature_is_401_and_stores_nothing(client, runtime, settings, case):
    body = json.dumps(SESSION).encode()
    headers = signed_headers(body)
    if case == "wrong-secret":
        headers = signed_headers(body, secret="not-the-secret")
    elif case == "tampered-body":
        body = json.dumps({**SESSION, "duration_minutes": 90}).encode()
    elif case == "other-tenant-header":
        headers["X-Summit-Tenant"] = "beta"  # the signature covers the tenant: it cannot be swapped
    elif case == "no-signature":
        del headers["X-Kintell-Signature"]
    elif case == "no-tenant":
        del headers["X-Summit-Tenant"]
    elif case == "malformed-signature":
        headers["X-Kintell-Signature"] = "md5=abc"
    elif case == "jwt-only":
        headers = {"Content-Type": "application/json", **auth(settings)}
    r = await client.post("/v1/webhooks/session", content=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(runtime, "kintell_sessions") == 0
    assert await count(runtime, "outbox") == 0


# Exact boundaries are unit-tested with a fixed clock; here the margin absorbs request time.
@pytest.mark.parametrize("skew", [-360, 360, -3600], ids=["6m-old", "6m-ahead", "1h-old"])
async def test_timestamp_outside_tolerance_is_rejected(client, runtime, skew):
    r = await post_webhook(client, "session", SESSION, at=time.time() + skew)
    assert r.status_code == 401
    assert "300 seconds" in r.json()["detail"]
    assert await count(runtime, "kintell_sessions") == 0


async def test_timestamp_inside_tolerance_is_accepted(client, runtime):
    r = await post_webhook(client, "session", SESSION, at=time.time() - 240)
    assert r.status_code == 200


async def test_a_tenant_with_its_own_secret_must_use_it(client, runtime):
    shared = await post_webhook(client, "session", SESSION, tenant="beta")
    assert shared.status_code == 401
    own = await post_webhook(client, "session", SESSION, tenant="beta", secret=BETA_SECRET)
    assert own.status_code == 200
    assert await count(runtime, "kintell_sessions", "beta") == 1
    assert await count(runtime, "kintell_sessions", "acme") == 0


async def test_invalid_session_payload_is_422_and_stores_nothing(client, runtime):
    r = await post_webhook(client, "session", {**SESSION, "level": "Z9", "start": "soon", "participant_id": None})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"level", "start", "participant_id"}
    not_json = b"{nope"
    r = await client.post("/v1/webhooks/session", content=not_json, headers=signed_headers(not_json))
    assert r.status_code == 422
    assert await count(runtime, "kintell_sessions") == 0


async def test_rating_webhook_for_a_completed_session(client, runtime, bus):
    await post_webhook(client, "session", SESSION)
    r = await post_webhook(client, "rating", RATING)
    assert r.status_code == 200, r.text
    assert r.json() == {"rating_id": "W-1:participant", "session_id": "W-1", "result": "created"}
    again = await post_webhook(client, "rating", {**RATING, "score": 1})
    assert again.json()["result"] == "duplicate"  # one rating per rater role; the first wins
    [event] = await events(bus, runtime, "kintell.rating.created.v1", at_least=1)
    assert event["subject"] == "W-1"
    assert event["data"]["rated_by"] == {"system": "kintell", "id": "P-1"}  # defaults to the session's participant
    assert (event["data"]["score"], event["data"]["comment"]) == (5, "Thanks!")
    assert await count(runtime, "kintell_ratings") == 1


async def test_rating_webhook_rejections_store_nothing(client, runtime):
    unknown = await post_webhook(client, "rating", RATING)
    assert unknown.status_code == 409 and "not known yet" in unknown.json()["detail"]
    await post_webhook(client, "session", {**SESSION, "status": "scheduled", "duration_minutes": None})
    not_held = await post_webhook(client, "rating", RATING)
    assert not_held.status_code == 409 and "only a completed session" in not_held.json()["detail"]
    await post_webhook(client, "session", SESSION)
    wrong_rater = await post_webhook(client, "rating", {**RATING, "rater_id": "someone-else"})
    assert wrong_rater.status_code == 409
    invalid = await post_webhook(client, "rating", {**RATING, "score": 6, "rater_role": "boss"})
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.json()["errors"]} == {"score", "rater_role"}
    bad_sig = await client.post("/v1/webhooks/rating", content=json.dumps(RATING).encode(),
                                headers=signed_headers(b"something else"))
    assert bad_sig.status_code == 401
    assert await count(runtime, "kintell_ratings") == 0


async def test_webhook_signature_matches_the_documented_scheme(client, runtime):
    """The README's recipe, spelled out: HMAC-SHA256 over '<timestamp>.<tenant>.<raw body>'."""
    import hashlib
    import hmac

    body = json.dumps(SESSION).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.acme.".encode() + body, hashlib.sha256).hexdigest()
    assert domain.sign(WEBHOOK_SECRET, timestamp, "acme", body) == f"sha256={digest}"
    r = await client.post("/v1/webhooks/session", content=body, headers={
        "X-Summit-Tenant": "acme", "X-Kintell-Timestamp": timestamp, "X-Kintell-Signature": f"sha256={digest}"})
    assert r.status_code == 200
