"""The reverse proxy over real NATS + Postgres: forwarding, auth and membership, roles,
denials (audited and announced), upstream failures, rate limits, and what reaches the logs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket

import httpx
import jwt
import pytest
import uvicorn

from services.api_gateway.tests.conftest import client_for
from services.api_gateway.tests.support import (
    ACME,
    GLOBEX,
    PROBLEM,
    add_member,
    audit_rows,
    auth,
    events,
    header,
    metric,
    token,
)
from services.unified_profile.service import service as unified_profile
from summit_common.auth import mint_token
from summit_common.runtime import ServiceRuntime
from tests.fixtures import DEV_SECRET
from tests.helpers import eventually

pytestmark = pytest.mark.integration
DENIED = "gateway.access.denied.v1"


def tight_routes(*, tenant_burst: int = 100, key_burst: int = 2) -> dict:
    return {
        "rate_limits": {
            "default": {"tenant": {"per_second": 1000, "burst": 1000}, "key": {"per_second": 1000, "burst": 1000}},
            "tight": {"tenant": {"per_second": 0.01, "burst": tenant_burst}, "key": {"per_second": 0.01, "burst": key_burst}},
        },
        "routes": [
            {"prefix": "/api/kintell", "service": "kintell-connector", "roles": ["admin", "company_user"], "rate_class": "tight"},
            {"prefix": "/api/buddy", "service": "buddy-service", "roles": ["admin", "company_user", "participant"]},
        ],
    }


# --- forwarding ----------------------------------------------------------------------------


async def test_a_member_is_proxied_with_path_query_headers_and_body(gateway, client, settings, echoes):
    await add_member(gateway, ACME, "u1", "company_user")
    headers = {**auth(settings), "X-Correlation-Id": "corr-42", "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
               "Connection": "X-Private", "X-Private": "hop", "X-Custom": "kept", "Content-Type": "text/csv"}
    body = b"session_id,participant\nS-1,K-1\n" * 50
    r = await client.post("/api/kintell/import/kintell-sessions?mapping=default&dry_run=1", content=body, headers=headers)
    assert r.status_code == 200, r.text
    echoed = r.json()
    assert echoed["service"] == "kintell-connector"
    assert (echoed["method"], echoed["path"], echoed["query"]) == ("POST", "/v1/import/kintell-sessions", "mapping=default&dry_run=1")
    assert (echoed["body_len"], echoed["body_sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert header(echoed, "authorization") == [headers["Authorization"]]  # the service verifies the same token
    assert header(echoed, "x-correlation-id") == ["corr-42"]
    assert header(echoed, "traceparent") == [headers["traceparent"]]
    assert header(echoed, "x-custom") == ["kept"] and header(echoed, "content-type") == ["text/csv"]
    assert header(echoed, "x-private") == []
    assert header(echoed, "connection") in ([], ["keep-alive"])  # the gateway's own hop, not the client's
    assert header(echoed, "x-forwarded-prefix") == ["/api/kintell/import"]
    assert r.headers["x-upstream"] == "kintell-connector" and "x-hop" not in r.headers  # hop-by-hop dropped both ways
    assert r.headers["x-correlation-id"] == "corr-42"
    assert metric(gateway, "gateway_upstream_responses_total", {"service": "kintell-connector", "status": "200"}) == 1


async def test_the_gateway_adds_no_headers_or_cookies_of_its_own(gateway, settings, echoes):
    await add_member(gateway, ACME, "u1", "company_user")
    await add_member(gateway, ACME, "u2", "company_user")
    async with client_for(gateway) as bare:
        for name in ("accept", "accept-encoding", "user-agent"):
            del bare.headers[name]  # a caller that sends none of them
        first = await bare.get("/api/kintell/x", headers=auth(settings, sub="u1"))
        assert first.headers["set-cookie"] == "upstream_session=1; Path=/"  # relayed to its caller ...
        bare.cookies.clear()  # (the test client keeps cookies; the gateway must not)
        second = await bare.get("/api/kintell/x", headers=auth(settings, sub="u2"))
    echoed = second.json()
    assert header(echoed, "cookie") == []  # ... never kept and replayed for someone else
    # nothing invented: an upstream that saw Accept-Encoding could compress what is relayed raw
    assert header(echoed, "accept-encoding") == [] and header(echoed, "user-agent") == [] and header(echoed, "accept") == []


async def test_a_correlation_id_is_created_when_missing_and_statuses_are_relayed(gateway, client, settings):
    await add_member(gateway, ACME, "u1", "participant")
    r = await client.delete("/api/buddy/matches/M-1", headers={**auth(settings, roles=("participant",)), "x-echo-status": "409"})
    assert r.status_code == 409
    created = header(r.json(), "x-correlation-id")
    assert len(created) == 1 and created[0] == r.headers["x-correlation-id"]
    assert header(r.json(), "traceparent") == []  # nothing to forward


async def test_a_large_response_is_streamed_through_unchanged(gateway, client, settings):
    await add_member(gateway, ACME, "u1", "company_user")
    r = await client.get("/api/kintell/big", params={"size": 3 * 65536 + 5}, headers=auth(settings))
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content) == 3 * 65536 + 5
    assert r.content[:1] == b"\x00" and r.content[-1:] == b"\x03"


async def test_the_unified_profile_service_reverifies_the_token_behind_the_gateway(make_gateway, settings):
    profile = ServiceRuntime(unified_profile, settings)
    await profile.start()
    try:
        gateway = await make_gateway(service_urls={"unified-profile": "http://profile.test"},
                                     mounts={"http://profile.test": httpx.ASGITransport(app=profile.app)})
        await add_member(gateway, ACME, "staff", "company_user")
        async with client_for(gateway) as client:
            created = await client.post("/api/profiles/mappings", json={"system": "kintell", "external_id": "K-7"},
                                        headers=auth(settings, sub="staff"))
            assert created.status_code == 201, created.text
            pid = created.json()["profile_id"]
            got = await client.get(f"/api/profiles/{pid}", headers=auth(settings, sub="staff"))
            assert got.status_code == 200 and got.json()["tenant"] == ACME
            listed = await client.get("/api/profiles", params={"system": "kintell", "external_id": "K-7"},
                                      headers=auth(settings, sub="staff"))
            assert [p["profile_id"] for p in listed.json()["items"]] == [pid]
            # the upstream's own checks still apply: its 422 comes back as it is
            bad = await client.post("/api/profiles/mappings", json={"system": "Bad!"}, headers=auth(settings, sub="staff"))
            assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    finally:
        await profile.stop()


# --- who may pass --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_credentials"),
        ({"Authorization": "Basic dTpw"}, "missing_credentials"),
        ({"Authorization": "Bearer not-a-jwt"}, "invalid_token"),
        ({"Authorization": "Bearer " + mint_token("another-secret-of-at-least-32-bytes!!", sub="u1", tenant=ACME,
                                                  roles=["admin"])}, "invalid_token"),
        ({"Authorization": "Bearer " + mint_token(DEV_SECRET, sub="u1", tenant=ACME, roles=["admin"], ttl_seconds=-60)},
         "invalid_token"),
        ({"Authorization": "Bearer " + jwt.encode({"sub": "u1", "tenant": ACME, "roles": ["admin"], "iss": "summit"},
                                                  DEV_SECRET)}, "invalid_token"),  # no exp
    ],
)
async def test_no_or_bad_token_is_a_401_audited_and_announced(gateway, client, settings, bus, echoes, headers, reason):
    await add_member(gateway, ACME, "u1", "admin")
    r = await client.get("/api/kintell/sessions?secret=q", headers=headers)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert r.json()["reason"] == reason and r.headers["www-authenticate"].startswith("Bearer")
    assert echoes["kintell-connector"].calls == 0
    [row] = await audit_rows(gateway, outcome="denied")
    assert (row["status"], row["reason"], row["method"], row["path"]) == (401, reason, "GET", "/api/kintell/sessions")
    assert row["company_id"] is None and row["actor"] is None  # an unverified token's claims are not trusted
    [event] = await events(bus, gateway, DENIED, at_least=1)
    assert event["tenantid"] == "_none"
    assert event["data"]["reason"] == reason and event["data"]["path"] == "/api/kintell/sessions"
    assert "secret" not in str(event) and "Bearer" not in str(event)


async def test_a_non_member_is_denied_403_audited_and_announced(gateway, client, settings, bus, echoes):
    await add_member(gateway, ACME, "member", "company_user")
    r = await client.get("/api/kintell/sessions", headers=auth(settings, sub="stranger"))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    assert r.json()["reason"] == "not_a_member" and "not a member of company acme" in r.json()["detail"]
    assert echoes["kintell-connector"].calls == 0
    [row] = await audit_rows(gateway, outcome="denied")
    assert (row["company_id"], row["actor"], row["status"], row["reason"]) == (ACME, "stranger", 403, "not_a_member")
    assert row["correlation_id"] == r.headers["x-correlation-id"]
    [event] = await events(bus, gateway, DENIED, at_least=1)
    assert event["tenantid"] == ACME and event["subject"] == ACME
    assert {k: event["data"][k] for k in ("actor", "company_id", "method", "status", "reason")} == {
        "actor": "stranger", "company_id": ACME, "method": "GET", "status": 403, "reason": "not_a_member"}
    assert event["correlationid"] == r.headers["x-correlation-id"]
    assert metric(gateway, "gateway_denied_total", {"reason": "not_a_member"}) == 1


async def test_tenant_isolation_a_token_for_another_company_is_refused(gateway, client, settings, echoes):
    await add_member(gateway, ACME, "u1", "admin")
    await add_member(gateway, GLOBEX, "g1", "admin")
    # u1 is an acme admin; a token naming globex as tenant does not make them a globex member
    r = await client.get("/api/buddy/matches", headers=auth(settings, sub="u1", tenant=GLOBEX, roles=("admin",)))
    assert r.status_code == 403 and r.json()["reason"] == "not_a_member"
    ok = await client.get("/api/buddy/matches", headers=auth(settings, sub="g1", tenant=GLOBEX, roles=("admin",)))
    assert ok.status_code == 200
    assert echoes["buddy-service"].calls == 1
    rows = await audit_rows(gateway, outcome="denied")
    assert [(r["company_id"], r["actor"]) for r in rows] == [(GLOBEX, "u1")]


async def test_route_roles_and_stale_token_roles(gateway, client, settings, echoes):
    await add_member(gateway, ACME, "p1", "participant")
    await add_member(gateway, ACME, "demoted", "company_user")
    r = await client.get("/api/kintell/sessions", headers=auth(settings, sub="p1", roles=("participant",)))
    assert r.status_code == 403 and r.json()["reason"] == "role_not_allowed"
    assert "admin, company_user" in r.json()["detail"]
    assert (await client.get("/api/buddy/x", headers=auth(settings, sub="p1", roles=("participant",)))).status_code == 200
    # the token still says admin, the membership says company_user: upstreams would trust the token
    stale = await client.get("/api/kintell/sessions", headers=auth(settings, sub="demoted", roles=("admin",)))
    assert stale.status_code == 403 and stale.json()["reason"] == "stale_token_roles"
    assert echoes["kintell-connector"].calls == 0
    assert [r["reason"] for r in await audit_rows(gateway, outcome="denied")] == ["role_not_allowed", "stale_token_roles"]


async def test_platform_admin_crosses_tenants_without_membership(gateway, client, settings, echoes):
    r = await client.get("/api/kintell/sessions", headers=auth(settings, sub="ops", tenant=GLOBEX, roles=("platform-admin",)))
    assert r.status_code == 200 and echoes["kintell-connector"].calls == 1


async def test_unknown_routes_and_dot_segments(gateway, client, settings, echoes):
    await add_member(gateway, ACME, "u1", "admin")
    r = await client.get("/api/nowhere/x", headers=auth(settings, roles=("admin",)))
    assert r.status_code == 404 and "/api/profiles" in r.json()["known_prefixes"]
    r = await client.get("/api/profiles/%2E%2E/dlq", headers=auth(settings, roles=("admin",)))
    assert r.status_code == 400 and "dot segments" in r.json()["detail"]
    assert sum(e.calls for e in echoes.values()) == 0
    unauth = await client.get("/api/nowhere/x")
    assert unauth.status_code == 401  # nothing about the route table before authentication


# --- upstream failures ---------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def served(app):
    """A real HTTP server on loopback for the app (timeouts need a real socket)."""
    port = closed_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_upstream_down_is_a_502_and_too_slow_a_504(make_gateway, settings, echoes):
    slow = echoes["buddy-service"]
    async with served(slow.app) as slow_url:
        gateway = await make_gateway(service_urls={"kintell-connector": f"http://127.0.0.1:{closed_port()}",
                                                   "buddy-service": slow_url},
                                     upstream_timeout_seconds=0.3)
        await add_member(gateway, ACME, "u1", "company_user")
        async with client_for(gateway) as client:
            down = await client.get("/api/kintell/sessions", headers=auth(settings))
            assert down.status_code == 502 and down.headers["content-type"] == PROBLEM
            assert down.json()["service"] == "kintell-connector" and "could not be reached" in down.json()["detail"]
            timeout = await client.get("/api/buddy/slow", headers=auth(settings))
            assert timeout.status_code == 504 and timeout.headers["content-type"] == PROBLEM
            assert "did not answer in time" in timeout.json()["detail"]
            unconfigured = await client.get("/api/q2q/x", headers=auth(settings))
            assert unconfigured.status_code == 502 and "SUMMIT_SERVICE_URLS" in unconfigured.json()["detail"]
            slow.release.set()
            fine = await client.get("/api/buddy/matches", headers=auth(settings))
            assert fine.status_code == 200
    assert metric(gateway, "gateway_upstream_errors_total", {"service": "buddy-service", "kind": "timeout"}) == 1


# --- rate limits ---------------------------------------------------------------------------


async def test_a_key_over_its_rate_gets_429_with_retry_after_audited_and_announced(make_gateway, settings, bus, echoes):
    gateway = await make_gateway(routes=tight_routes(key_burst=2))
    await add_member(gateway, ACME, "u1", "company_user")
    await add_member(gateway, ACME, "u2", "company_user")
    async with client_for(gateway) as client:
        codes = [(await client.get("/api/kintell/sessions", headers=auth(settings, sub="u1"))).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        refused = await client.get("/api/kintell/sessions", headers=auth(settings, sub="u1"))
        assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["reason"] == "rate_limited" and "tight" in refused.json()["detail"]
        # another user of the same company has a bucket of their own; another route class is unaffected
        assert (await client.get("/api/kintell/sessions", headers=auth(settings, sub="u2"))).status_code == 200
        assert (await client.get("/api/buddy/x", headers=auth(settings, sub="u1"))).status_code == 200
    assert echoes["kintell-connector"].calls == 3
    rows = await audit_rows(gateway, reason="rate_limited")
    assert len(rows) == 2 and rows[0]["detail"] == {"route": "/api/kintell", "rate_class": "tight"}
    announced = await events(bus, gateway, DENIED, at_least=2)
    assert [e["data"]["status"] for e in announced] == [429, 429]


async def test_the_tenant_bucket_is_shared_by_its_users(make_gateway, settings):
    gateway = await make_gateway(routes=tight_routes(tenant_burst=2, key_burst=100))
    for user in ("u1", "u2", "u3"):
        await add_member(gateway, ACME, user, "company_user")
    await add_member(gateway, GLOBEX, "g1", "company_user")
    async with client_for(gateway) as client:
        codes = [(await client.get("/api/kintell/x", headers=auth(settings, sub=u))).status_code for u in ("u1", "u2", "u3")]
        assert codes == [200, 200, 429]
        other = await client.get("/api/kintell/x", headers=auth(settings, sub="g1", tenant=GLOBEX))
        assert other.status_code == 200  # another company's bucket


# --- logs ----------------------------------------------------------------------------------


async def test_request_logs_carry_neither_bodies_nor_tokens(gateway, client, settings, request):
    # structlog writes to the sys.stderr of the moment logging was configured: pytest's global capture.
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None or not capture.is_globally_capturing():
        pytest.skip("needs pytest's output capture (not -s)")
    capture.read_global_capture()
    await add_member(gateway, ACME, "u1", "company_user")
    secret_token = token(settings)
    body = b"password=hunter2-very-secret-body"
    r = await client.post("/api/kintell/sessions?api_token=query-secret", content=body,
                          headers={"Authorization": f"Bearer {secret_token}"})
    assert r.status_code == 200
    denied = await client.post("/api/kintell/sessions", content=body, headers={"Authorization": "Bearer bad.token.value"})
    assert denied.status_code == 401
    logged = capture.read_global_capture()[1]
    assert '"upstream": "kintell-connector"' in logged and '"access_denied"' in logged  # the lines exist ...
    for secret in (secret_token, "hunter2", "query-secret", "bad.token.value"):
        assert secret not in logged  # ... without the secrets


async def test_a_public_route_needs_no_token_and_forwards_none(make_gateway, settings, echoes):
    routes = tight_routes(key_burst=2)
    routes["routes"].append({"prefix": "/api/shared", "service": "buddy-service", "rewrite": "/v1/shared",
                             "public": True, "rate_class": "tight"})
    gateway = await make_gateway(routes=routes)
    async with client_for(gateway) as client:
        r = await client.get("/api/shared/signed-token", headers=auth(settings, sub="nobody"))
        assert r.status_code == 200, r.text
        echoed = r.json()
        assert echoed["path"] == "/v1/shared/signed-token"
        assert header(echoed, "authorization") == []  # a caller's token never reaches a public upstream
        assert (await client.get("/api/shared/signed-token")).status_code == 200
        limited = await client.get("/api/shared/signed-token")
        assert limited.status_code == 429 and limited.headers["content-type"] == PROBLEM  # limited per client address
        # a non-public route still needs a token
        assert (await client.get("/api/buddy/x")).status_code == 401


def test_a_public_route_cannot_also_name_roles():
    from services.api_gateway.domain import RulesError, parse_rules

    doc = tight_routes()
    doc["routes"].append({"prefix": "/api/shared", "service": "buddy-service", "public": True, "roles": ["admin"]})
    with pytest.raises(RulesError, match="public route has no roles"):
        parse_rules(doc)
