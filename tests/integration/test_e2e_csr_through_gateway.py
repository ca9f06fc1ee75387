"""CSR core end to end through the api-gateway, over real NATS JetStream and Postgres:
buddy and kintell data go in through the gateway; the profile shows the right flags;
q2q-ai scores the feedback with cited, masked snippets; a flagged text waits in the
review queue until a reviewer decides; cross-tenant access is denied and audited; the
rate limit trips with 429."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from services.api_gateway.config import DEFAULT_ROUTES, GatewaySettings
from services.api_gateway.gateway import close_gateway, configure
from services.api_gateway.service import service as api_gateway
from services.api_gateway.tests.support import add_member, audit_rows
from services.buddy_service.service import service as buddy_service
from services.kintell_connector.service import service as kintell_connector
from services.q2q_ai.service import service as q2q_ai
from services.safety_moderation.service import service as safety_moderation
from services.unified_profile.service import service as unified_profile
from summit_common.auth import mint_token
from tests.helpers import eventually

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
UPSTREAMS = (kintell_connector, buddy_service, unified_profile, safety_moderation, q2q_ai)


@pytest.fixture
async def platform(start_service, settings):
    runtimes = {s.name: await start_service(s) for s in UPSTREAMS}
    urls = {name: f"http://{name}.internal" for name in runtimes}
    gateway = await _gateway(start_service, settings, runtimes, urls)
    await add_member(gateway, "acme", "alice", "admin")
    await add_member(gateway, "globex", "eve", "admin")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway.app), base_url="http://gateway")
    yield {"gateway": gateway, "client": client, **runtimes}
    await client.aclose()
    await close_gateway(gateway.app)
    await gateway.stop()


async def _gateway(start_service, settings, runtimes, urls):
    from summit_common.runtime import ServiceRuntime

    runtime = ServiceRuntime(api_gateway, settings)
    configure(
        runtime.app,
        settings=GatewaySettings(service_urls=urls, routes_file=DEFAULT_ROUTES, health_cache_seconds=0),
        mounts={urls[name]: httpx.ASGITransport(app=r.app) for name, r in runtimes.items()},
    )
    await runtime.start()
    return runtime


def auth(settings, user: str = "alice", tenant: str = "acme", roles=("admin",)) -> dict:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=user, tenant=tenant, roles=list(roles))}"}


async def _csv(client, path: str, file: Path, headers: dict) -> dict:
    body = await asyncio.to_thread(file.read_bytes)
    response = await client.post(path, content=body, headers={**headers, "Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    return response.json()


async def test_csr_flow_through_the_gateway(platform, settings):
    client, alice = platform["client"], auth(settings)
    buddy = ROOT / "services" / "buddy_service" / "samples"
    await _csv(client, "/api/buddy/import/matches", buddy / "matches.csv", alice)
    feedback = await _csv(client, "/api/buddy/import/feedback", buddy / "feedback.csv", alice)
    assert feedback["accepted"] >= 4
    kintell = await _csv(client, "/api/kintell/import/kintell-sessions",
                         ROOT / "services" / "kintell_connector" / "samples" / "language_sessions.csv", alice)
    assert kintell["accepted"] >= 3

    # The profile shows the right flags (buddy and kintell identities are separate participants here).
    async def buddy_profile():
        r = await client.get("/api/profiles", params={"system": "buddy", "external_id": "BP-201"}, headers=alice)
        items = r.json().get("items", []) if r.status_code == 200 else []
        flags = items[0]["flags"] if items else {}
        # Per-type consumers apply the match and the feedback in any order: wait for both.
        return items[0] if flags.get("has_given_feedback") and flags.get("is_buddy_matched") else None

    profile = await eventually(buddy_profile, timeout=30)
    assert profile["flags"]["is_buddy_matched"] is True

    async def kintell_profile():
        r = await client.get("/api/profiles", params={"system": "kintell", "external_id": "KP-201"}, headers=alice)
        items = r.json().get("items", []) if r.status_code == 200 else []
        return items[0] if items and items[0]["flags"].get("has_completed_language") else None

    assert (await eventually(kintell_profile, timeout=30))["flags"]["has_completed_language"] is True

    # q2q-ai scores the clean feedback, citing stored, masked snippets.
    async def outcomes_for(participant: str):
        r = await client.get("/api/q2q/outcomes", params={"participant": participant}, headers=alice)
        return r.json()["items"] if r.status_code == 200 else []

    scored = await eventually(lambda: outcomes_for("buddy:BP-203"), timeout=30, interval=0.6)  # the "ai" route class allows 2 req/s per caller
    assert all(0 <= o["value"] <= 1 and o["evidence_ids"] for o in scored)
    evidence = await client.get(f"/api/q2q/evidence/{scored[0]['evidence_ids'][0]}", headers=alice)
    assert evidence.status_code == 200, evidence.text

    # The self-harm feedback (with an email and a phone number) is held for review ...
    async def pending_review():
        r = await client.get("/api/safety/reviews", params={"status": "pending"}, headers=alice)
        items = r.json().get("items", []) if r.status_code == 200 else []
        return [i for i in items if i.get("content_id") == "BF-9005"]

    review = (await eventually(pending_review, timeout=30))[0]
    assert "amal.h@example.com" not in str(review) and "912 34 567" not in str(review)
    # ... and q2q-ai has not scored it while it waits.
    assert [o for o in await outcomes_for("buddy:BP-204") if o["source_id"] == "BF-9005"] == []

    decided = await client.post(f"/api/safety/reviews/{review['flag_id']}/decision",
                                json={"decision": "approved", "reason": "support contacted; text may be used"},
                                headers=alice)
    assert decided.status_code == 200, decided.text

    async def scored_after_review():
        return [o for o in await outcomes_for("buddy:BP-204") if o["source_id"] == "BF-9005"]

    released = await eventually(scored_after_review, timeout=30, interval=0.6)
    assert released and all(o["evidence_ids"] for o in released)


async def test_cross_tenant_and_non_members_are_denied_and_audited(platform, settings):
    client = platform["client"]
    buddy = ROOT / "services" / "buddy_service" / "samples"
    await _csv(client, "/api/buddy/import/matches", buddy / "matches.csv", auth(settings))

    # A member of globex cannot read acme's match: the upstream answers 404 for another tenant.
    other = await client.get("/api/buddy/matches/BM-1001", headers=auth(settings, "eve", "globex"))
    assert other.status_code == 404
    # Claiming acme without being a member of acme is refused at the gateway and audited.
    spoof = await client.get("/api/buddy/matches/BM-1001", headers=auth(settings, "eve", "acme"))
    assert spoof.status_code == 403
    assert spoof.headers["content-type"] == "application/problem+json"
    rows = await audit_rows(platform["gateway"], actor="eve")
    assert any(r["outcome"].startswith("denied") or r.get("status") == 403 for r in rows), rows


async def test_rate_limit_trips_with_429_and_retry_after(platform, settings):
    client, alice = platform["client"], auth(settings)
    statuses = []
    for _ in range(12):  # the bulk class allows a burst of 5 imports per tenant
        r = await client.post("/api/kintell/import/kintell-sessions", content=b"session_id\n",
                              headers={**alice, "Content-Type": "text/csv"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            break
    assert statuses[-1] == 429, statuses
