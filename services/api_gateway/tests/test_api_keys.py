"""API keys over real NATS + Postgres: created once, stored hashed, used instead of a JWT,
revoked; tenant isolation of the key routes."""

from __future__ import annotations

import hashlib

import jwt
import pytest

from services.api_gateway.tests.support import ACME, GLOBEX, PROBLEM, add_member, audit_rows, auth, header
from tests.fixtures import DEV_SECRET

pytestmark = pytest.mark.integration
ADMIN = ("admin",)


async def create_key(client, settings, *, role: str = "company_user", tenant: str = ACME, sub: str = "boss") -> dict:
    r = await client.post("/v1/api-keys", json={"name": "nightly export", "role": role}, headers=auth(settings, sub=sub, tenant=tenant, roles=ADMIN))
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


async def test_a_key_acts_as_its_company_until_it_is_revoked(gateway, client, settings, echoes):
    await add_member(gateway, ACME, "boss", "admin")
    created = await create_key(client, settings)
    key = created["key"]
    assert key.startswith(created["key_prefix"] + "_") and created["role"] == "company_user"
    async with gateway.pool.acquire() as conn:
        stored = await conn.fetchrow("SELECT * FROM company_api_keys")
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest() and stored["key_prefix"] == created["key_prefix"]
    assert key not in str(dict(stored))

    r = await client.get("/api/kintell/sessions", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    echoed = r.json()
    assert header(echoed, "x-api-key") == []  # never leaves the gateway
    [bearer] = header(echoed, "authorization")
    claims = jwt.decode(bearer.removeprefix("Bearer "), DEV_SECRET, algorithms=["HS256"], issuer="summit")
    assert (claims["sub"], claims["tenant"], claims["roles"]) == (f"apikey:{created['key_id']}", ACME, ["company_user"])

    listed = await client.get("/v1/api-keys", headers=auth(settings, sub="boss", roles=ADMIN))
    assert [k["key_id"] for k in listed.json()["items"]] == [created["key_id"]]
    assert "key" not in listed.json()["items"][0] and key not in listed.text

    revoked = await client.delete(f"/v1/api-keys/{created['key_id']}", headers=auth(settings, sub="boss", roles=ADMIN))
    assert revoked.status_code == 204
    after = await client.get("/api/kintell/sessions", headers={"X-API-Key": key})
    assert after.status_code == 401 and after.json()["reason"] == "revoked_api_key"
    assert echoes["kintell-connector"].calls == 1
    again = await client.delete(f"/v1/api-keys/{created['key_id']}", headers=auth(settings, sub="boss", roles=ADMIN))
    assert again.status_code == 204  # idempotent
    [row] = await audit_rows(gateway, outcome="denied")
    assert (row["company_id"], row["actor"], row["status"]) == (ACME, f"apikey:{created['key_id']}", 401)
    assert key not in str(row)
    changes = [r["action"] for r in await audit_rows(gateway, outcome="changed")]
    assert changes == ["api_key.created", "api_key.revoked"]  # the second revocation changed nothing


async def test_wrong_keys_are_401_and_mixed_credentials_400(gateway, client, settings):
    await add_member(gateway, ACME, "boss", "admin")
    created = await create_key(client, settings)
    forged = created["key"][:-4] + ("AAAA" if not created["key"].endswith("AAAA") else "BBBB")
    for value, reason in [(forged, "invalid_api_key"), ("smk_nonsense", "invalid_api_key"), ("", "invalid_api_key")]:
        r = await client.get("/api/kintell/sessions", headers={"X-API-Key": value})
        assert r.status_code == 401 and r.json()["reason"] == reason
    both = await client.get("/api/kintell/sessions", headers={"X-API-Key": created["key"], **auth(settings, sub="boss")})
    assert both.status_code == 400 and both.headers["content-type"] == PROBLEM
    rows = await audit_rows(gateway, outcome="denied")
    assert [r["actor"] for r in rows] == [f"apikey:{created['key_prefix']}", None, None]
    assert all(forged not in str(r) for r in rows)


async def test_a_keys_role_limits_its_routes_and_it_cannot_manage_the_company(gateway, client, settings, echoes):
    await add_member(gateway, ACME, "boss", "admin")
    key = (await create_key(client, settings, role="participant"))["key"]
    assert (await client.get("/api/buddy/matches", headers={"X-API-Key": key})).status_code == 200
    refused = await client.get("/api/kintell/sessions", headers={"X-API-Key": key})
    assert refused.status_code == 403 and refused.json()["reason"] == "role_not_allowed"
    admin_key = (await create_key(client, settings, role="admin"))["key"]
    manage = await client.get("/v1/api-keys", headers={"X-API-Key": admin_key})
    assert manage.status_code == 401  # the /v1 routes take a JWT only


async def test_key_routes_are_tenant_isolated(gateway, client, settings):
    await add_member(gateway, ACME, "boss", "admin")
    await add_member(gateway, GLOBEX, "g1", "admin")
    theirs = await create_key(client, settings, tenant=GLOBEX, sub="g1")
    ours = await create_key(client, settings)
    listed = await client.get("/v1/api-keys", headers=auth(settings, sub="boss", roles=ADMIN))
    assert [k["key_id"] for k in listed.json()["items"]] == [ours["key_id"]]
    probe = await client.delete(f"/v1/api-keys/{theirs['key_id']}", headers=auth(settings, sub="boss", roles=ADMIN))
    missing = await client.delete("/v1/api-keys/00000000-0000-0000-0000-000000000000", headers=auth(settings, sub="boss", roles=ADMIN))
    garbage = await client.delete("/v1/api-keys/not-a-uuid", headers=auth(settings, sub="boss", roles=ADMIN))
    assert probe.status_code == missing.status_code == garbage.status_code == 404
    assert probe.json()["detail"].replace(theirs["key_id"], "X") == missing.json()["detail"].replace(
        "00000000-0000-0000-0000-000000000000", "X")  # no existence leak
    assert (await client.get("/api/buddy/x", headers={"X-API-Key": theirs["key"]})).status_code == 200  # still valid
    [row] = await audit_rows(gateway, reason="cross_tenant")
    assert row["detail"] == {"target_company": GLOBEX, "key_id": theirs["key_id"]}
    assert (await client.get("/v1/api-keys")).status_code == 401


async def test_key_creation_input_is_validated(gateway, client, settings):
    await add_member(gateway, ACME, "boss", "admin")
    for body in ({"name": ""}, {"name": "x", "role": "root"}, {"name": "x", "key": "mine"}):
        r = await client.post("/v1/api-keys", json=body, headers=auth(settings, sub="boss", roles=ADMIN))
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM company_api_keys") == 0
