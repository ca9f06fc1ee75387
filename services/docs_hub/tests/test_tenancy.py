"""Tenant isolation on every route (another tenant's index and documents are 404, audited for
ids), and no/bad/expired tokens are 401 on every route with nothing stored."""

from __future__ import annotations

import pytest

from services.docs_hub.tests.support import OTHER, TENANT, auth, count, doc_id, docs, refresh
from summit_common.auth import mint_token

pytestmark = pytest.mark.integration
KINTELL = "services/kintell_connector/README.md"
DRIFT = {"commit": "abc123", "changed_files": [{"path": "services/kintell_connector/api.py", "change": "modified"}]}


async def _audit(runtime) -> list[tuple]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT tenant_id, actor, resource, outcome FROM audit_log ORDER BY id")
    return [tuple(r) for r in rows]


async def test_a_tenant_without_an_index_sees_nothing_of_anothers(client, runtime, settings):
    await refresh(client, settings)
    beta = auth(settings, OTHER, roles=("admin",))
    for path in ("/v1/docs", "/v1/coverage"):
        r = await client.get(path, headers=beta)
        assert r.status_code == 404 and "nothing is indexed for your tenant" in r.json()["detail"], path
    r = await client.post("/v1/drift-check", json=DRIFT, headers=beta)
    assert r.status_code == 404
    assert (await client.get("/v1/docs", params={"service": "kintell-connector"}, headers=beta)).status_code == 404


async def test_another_tenants_document_is_404_and_audited(client, runtime, settings):
    await refresh(client, settings)
    ident = await doc_id(client, settings, KINTELL)
    assert (await client.get(f"/v1/docs/{ident}", headers=auth(settings))).status_code == 200
    snoop = auth(settings, OTHER, sub="snoop", roles=("admin",))
    r = await client.get(f"/v1/docs/{ident}", headers=snoop)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = await client.get(f"/v1/docs/{ident}/versions/1", headers=snoop)
    assert r.status_code == 404
    assert await _audit(runtime) == [
        (OTHER, "snoop", f"document {ident}", "denied_cross_tenant"),
        (OTHER, "snoop", f"document {ident}", "denied_cross_tenant"),
    ]


async def test_a_missing_document_is_404_without_an_audit_entry(client, runtime, settings):
    await refresh(client, settings)
    assert (await client.get("/v1/docs/0190-nope", headers=auth(settings))).status_code == 404
    assert await _audit(runtime) == []


async def test_each_tenant_has_its_own_index(client, runtime, settings, repo):
    await refresh(client, settings)
    (repo / "docs/adr/0001-outbox.md").unlink()
    await refresh(client, settings, tenant=OTHER)
    mine = {d["key"]: d["doc_id"] for d in (await docs(client, settings, limit=200)).json()["items"]}
    theirs = {d["key"]: d["doc_id"] for d in (await docs(client, settings, tenant=OTHER, limit=200)).json()["items"]}
    assert "docs/adr/0001-outbox.md" in mine and "docs/adr/0001-outbox.md" not in theirs
    assert set(theirs) == set(mine) - {"docs/adr/0001-outbox.md"}
    assert not set(mine.values()) & set(theirs.values())  # ids are per tenant
    # the platform index did not change because beta refreshed
    assert await count(runtime, "refreshes", TENANT) == 1 and await count(runtime, "documents", TENANT) == len(mine)
    r = await client.get(f"/v1/docs/{mine[KINTELL]}", headers=auth(settings, OTHER))
    assert r.status_code == 404


ROUTES = [
    ("POST", "/v1/index:refresh"),
    ("GET", "/v1/docs"),
    ("GET", "/v1/docs/some-id"),
    ("GET", "/v1/docs/some-id/versions/1"),
    ("GET", "/v1/coverage"),
    ("POST", "/v1/drift-check"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", ["none", "wrong-key", "expired", "not-bearer", "no-tenant"])
async def test_every_route_needs_a_valid_token(client, runtime, settings, method, path, token):
    import jwt

    headers = {
        "none": {},
        "wrong-key": {"Authorization": "Bearer " + mint_token("another-key-entirely-0123456789-abcdef", sub="x",
                                                              tenant=TENANT, roles=["admin"])},
        "expired": {"Authorization": "Bearer " + mint_token(settings.jwt_secret, sub="x", tenant=TENANT, roles=["admin"],
                                                            ttl_seconds=-60)},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "no-tenant": {"Authorization": "Bearer " + jwt.encode({"sub": "x", "exp": 9999999999, "iss": "summit", "roles": ["admin"]},
                                                              settings.jwt_secret, algorithm="HS256")},
    }[token]
    r = await client.request(method, path, headers=headers, json=DRIFT if path == "/v1/drift-check" else None)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert await count(runtime, "refreshes") == await count(runtime, "documents") == await count(runtime, "outbox") == 0
