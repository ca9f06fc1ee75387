"""The HTTP side every service gets from the chassis, over a real runtime."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from summit_common.auth import mint_token
from summit_common.runtime import ServiceRuntime
from tests.integration.probe_service import make_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(settings):
    runtime = ServiceRuntime(make_service(), settings.model_copy(update={"max_body_bytes": 2048}))
    await runtime.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url="http://probe") as c:
        c.runtime = runtime
        yield c
    await runtime.stop()


def bearer(settings, **claims) -> dict:
    roles = claims.pop("roles", ["company_user"])
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub='u1', tenant=claims.pop('tenant', 'acme'), roles=roles)}"}


async def test_health_metrics_and_docs_need_no_token(client):
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"migrations": True, "nats": True, "postgres": True}
    metrics = await client.get("/metrics")
    assert "summit_outbox_backlog" in metrics.text and "summit_events_handled" in metrics.text
    asyncapi = (await client.get("/asyncapi.json")).json()
    assert asyncapi["asyncapi"].startswith("3.")
    assert {op["action"] for op in asyncapi["operations"].values()} == {"receive", "send"}
    assert "/v1/dlq" in (await client.get("/openapi.json")).json()["paths"]


async def test_correlation_id_is_propagated_or_created(client):
    given = await client.get("/healthz", headers={"X-Correlation-Id": "abc-123"})
    assert given.headers["x-correlation-id"] == "abc-123"
    assert len((await client.get("/healthz")).headers["x-correlation-id"]) >= 32


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
async def test_missing_or_malformed_token_is_401_problem(client, headers):
    response = await client.get("/v1/dlq", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401 and response.json()["detail"]


async def test_expired_wrong_key_and_alg_none_tokens_are_rejected(client, settings):
    now = int(time.time())
    claims = {"sub": "u", "tenant": "acme", "roles": ["operator"], "iss": "summit"}
    expired = jwt.encode({**claims, "exp": now - 10}, settings.jwt_secret, algorithm="HS256")
    wrong_key = jwt.encode({**claims, "exp": now + 60}, "another-secret-another-secret-another", algorithm="HS256")
    unsigned = jwt.encode({**claims, "exp": now + 60}, None, algorithm="none")
    no_exp = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
    for token in (expired, wrong_key, unsigned, no_exp):
        response = await client.get("/v1/dlq", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


async def test_role_is_enforced_with_403(client, settings):
    assert (await client.get("/v1/dlq", headers=bearer(settings, roles=["company_user"]))).status_code == 403
    assert (await client.get("/v1/dlq", headers=bearer(settings, roles=["operator"]))).status_code == 200
    assert (await client.get("/v1/dlq", headers=bearer(settings, roles=["platform-admin"]))).status_code == 200


async def test_oversized_body_is_413_problem_with_or_without_content_length(client, settings):
    big = b"x" * 5000
    response = await client.post("/v1/notes", content=big, headers=bearer(settings))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "2048" in response.json()["detail"]

    async def chunks():
        for _ in range(5):
            yield b"y" * 1000

    streamed = await client.post("/v1/notes", content=chunks(), headers=bearer(settings))
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("body", "needle"),
    [(b"{not json", "JSON"), (b'{"text": "a", "count": "many"}', "count"), (b'{"text": "a"}', "count")],
)
async def test_bad_json_and_wrong_types_are_422_problems_naming_the_field(client, settings, body, needle):
    response = await client.post("/v1/notes", content=body, headers={**bearer(settings), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert needle.lower() in response.text.lower()


async def test_replaying_a_missing_dead_letter_is_404(client, settings):
    response = await client.post("/v1/dlq/999999/replay", headers=bearer(settings, roles=["operator"]))
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


async def test_unknown_route_is_problem_json(client):
    response = await client.get("/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
