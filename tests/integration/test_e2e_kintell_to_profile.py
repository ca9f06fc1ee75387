"""The first CSR flow end to end, over real NATS JetStream and Postgres:

Kintell CSV -> kintell-connector (normalised rows + outbox) -> kintell.* events on JetStream
-> unified-profile (inbox + profile + outbox) -> profile read over HTTP with a valid token.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import nats
import pytest

from services.kintell_connector.service import service as kintell_connector
from services.unified_profile.service import service as unified_profile
from summit_common.auth import mint_token
from summit_common.runtime import ServiceRuntime
from tests.helpers import eventually, read_subject

pytestmark = pytest.mark.integration
SAMPLES = Path(__file__).parents[2] / "services" / "kintell_connector" / "samples"


def auth(settings, tenant: str = "acme", roles=("company_user",)) -> dict:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub='ops', tenant=tenant, roles=list(roles))}"}


@pytest.fixture
async def platform(settings):
    runtimes = [ServiceRuntime(kintell_connector, settings), ServiceRuntime(unified_profile, settings)]
    for runtime in runtimes:
        await runtime.start()
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=r.app), base_url="http://svc") for r in runtimes]
    yield {"kintell": clients[0], "profile": clients[1], "runtimes": runtimes}
    for client in clients:
        await client.aclose()
    for runtime in runtimes:
        await runtime.stop()


async def profile_of(client, settings, external_id: str, tenant: str = "acme") -> dict | None:
    response = await client.get("/v1/profiles", params={"system": "kintell", "external_id": external_id}, headers=auth(settings, tenant))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return items[0] if items else None


async def test_csv_import_reaches_the_profile_over_http(platform, settings):
    csv = (SAMPLES / "language_sessions.csv").read_bytes()
    imported = await platform["kintell"].post(
        "/v1/import/kintell-sessions", content=csv, headers={**auth(settings), "Content-Type": "text/csv"}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["accepted"] >= 3

    async def language_done():
        profile = await profile_of(platform["profile"], settings, "KP-201")
        return profile if profile and profile["flags"].get("has_completed_language") else None

    profile = await eventually(language_done)
    assert profile["flags"]["has_completed_language"] is True
    assert any(i["system"] == "kintell" and i["external_id"] == "KP-201" for i in profile["identities"])

    # The same file again is a no-op end to end: nothing new is emitted, counters stay.
    again = await platform["kintell"].post(
        "/v1/import/kintell-sessions", content=csv, headers={**auth(settings), "Content-Type": "text/csv"}
    )
    assert again.json()["accepted"] == 0
    full = (await platform["profile"].get(f"/v1/profiles/{profile['profile_id']}", headers=auth(settings))).json()
    assert full["counters"]["language_sessions_completed"] == 1

    # The milestone went out on the bus exactly once.
    nc = await nats.connect(settings.nats_url)
    naming = platform["runtimes"][1].naming
    milestones = await read_subject(
        nc.jetstream(), naming.stream("orchestration"), naming.subject("orchestration.journey.milestone.reached.v1"), at_least=1
    )
    await nc.close()
    mine = [json.loads(m.data)["data"] for m in milestones]
    mine = [m for m in mine if m["profile_id"] == profile["profile_id"] and m["milestone"] == "has_completed_language"]
    assert len(mine) == 1

    # Tenant isolation: another tenant neither finds it nor reads it.
    assert await profile_of(platform["profile"], settings, "KP-201", tenant="globex") is None
    other = await platform["profile"].get(f"/v1/profiles/{profile['profile_id']}", headers=auth(settings, "globex"))
    assert other.status_code == 404
    assert (await platform["profile"].get(f"/v1/profiles/{profile['profile_id']}")).status_code == 401


async def test_malformed_rows_are_reported_and_good_rows_flow_through(platform, settings):
    csv = (SAMPLES / "malformed_sessions.csv").read_bytes()
    report = (await platform["kintell"].post(
        "/v1/import/kintell-sessions", content=csv, headers={**auth(settings), "Content-Type": "text/csv"}
    )).json()
    assert report["rejected"] >= 1 and report["accepted"] >= 1
    assert all(error["line"] > 1 and error["reason"] for error in report["errors"])
    # Per-type consumers apply a participant's events in any order: wait for the completed session.
    async def language_done():
        profile = await profile_of(platform["profile"], settings, "KP-501")
        return profile if profile and profile["flags"].get("has_completed_language") else None

    profile = await eventually(language_done)
    assert profile["flags"]["has_completed_language"] is True
    assert await profile_of(platform["profile"], settings, "KP-502") is None  # the rejected row made no profile
