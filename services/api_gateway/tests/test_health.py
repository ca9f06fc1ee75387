"""GET /health/*: readiness of every upstream, unauthenticated, up/down only."""

from __future__ import annotations

import socket

import httpx
import pytest

from services.api_gateway.tests.conftest import client_for
from services.api_gateway.tests.support import ROUTED

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_all_ready_is_200(gateway, client):
    r = await client.get("/health/all")
    assert r.status_code == 200
    services = r.json()["services"]
    assert r.json()["status"] == "ready"
    assert set(services) == {"api-gateway", *ROUTED}
    assert all(v == {"status": "ready"} for v in services.values())


async def test_one_upstream_down_makes_the_aggregate_503(make_gateway, echoes):
    echoes["safety-moderation"].ready = False
    urls = {name: f"http://{name}.test" for name in echoes}
    urls["q2q-ai"] = f"http://127.0.0.1:{closed_port()}"
    del urls["buddy-service"]
    urls["schema-viz"] = "http://schema-viz.test"  # not routed, still reported
    gateway = await make_gateway(service_urls=urls,
                                 mounts={"http://schema-viz.test": httpx.ASGITransport(app=echoes["kintell-connector"].app)})
    async with client_for(gateway) as client:
        r = await client.get("/health/all")
        assert r.status_code == 503 and r.json()["status"] == "degraded"
        statuses = {name: v["status"] for name, v in r.json()["services"].items()}
        assert statuses == {
            "api-gateway": "ready", "kintell-connector": "ready", "unified-profile": "ready", "upskilling-connector": "ready",
            "safety-moderation": "not_ready", "q2q-ai": "unreachable", "buddy-service": "unconfigured", "schema-viz": "ready",
            "impact-calculator": "ready", "reporting": "ready", "impact-in": "ready", "privacy-orchestrator": "ready"}
        one = await client.get("/health/q2q-ai")
        assert one.status_code == 503 and one.json() == {"service": "q2q-ai", "status": "unreachable"}
        fine = await client.get("/health/kintell-connector")
        assert fine.status_code == 200 and fine.json()["status"] == "ready"
        itself = await client.get("/health/api-gateway")
        assert itself.status_code == 200
        unknown = await client.get("/health/nope")
        assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
        echoes["safety-moderation"].ready = True
        assert (await client.get("/health/safety-moderation")).status_code == 200


async def test_the_aggregate_is_reused_for_a_moment(make_gateway, echoes):
    gateway = await make_gateway(health_cache_seconds=60)
    async with client_for(gateway) as client:
        assert (await client.get("/health/all")).status_code == 200
        echoes["q2q-ai"].ready = False
        assert (await client.get("/health/all")).status_code == 200  # the cached answer
        assert (await client.get("/health/q2q-ai")).status_code == 503  # one service is always asked
