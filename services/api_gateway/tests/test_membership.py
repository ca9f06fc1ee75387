"""Membership admin routes and the membership cache over real NATS + Postgres: changes are
stored, audited and announced; the cache forgets a membership when the event arrives, in
every replica; tenant isolation of the /v1 routes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.api_gateway.tests.conftest import client_for
from services.api_gateway.tests.support import (
    ACME,
    GLOBEX,
    PROBLEM,
    add_member,
    audit_rows,
    auth,
    events,
    metric,
)
from summit_contracts import new_event
from tests.helpers import eventually

pytestmark = pytest.mark.integration
CHANGED = "gateway.membership.changed.v1"
ADMIN = ("admin",)


async def members_of(runtime, company: str) -> dict[str, str]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT user_id, role FROM company_users WHERE company_id = $1", company)
    return {r["user_id"]: r["role"] for r in rows}


# --- the admin routes ----------------------------------------------------------------------


async def test_an_admin_registers_their_company_and_manages_its_members(gateway, client, settings, bus):
    r = await client.post("/v1/companies", json={"company_id": ACME, "name": "Acme AS"}, headers=auth(settings, sub="boss", roles=ADMIN))
    assert r.status_code == 201, r.text
    assert r.json()["company_id"] == ACME and r.json()["members"] == 1
    admin = auth(settings, sub="boss", roles=ADMIN)

    added = await client.post(f"/v1/companies/{ACME}/users", json={"user_id": "u1", "role": "participant"}, headers=admin)
    assert added.status_code == 201 and added.json()["change"] == "added"
    same = await client.post(f"/v1/companies/{ACME}/users", json={"user_id": "u1", "role": "participant"}, headers=admin)
    assert same.status_code == 200 and same.json()["change"] == "unchanged"
    promoted = await client.post(f"/v1/companies/{ACME}/users", json={"user_id": "u1", "role": "company_user"}, headers=admin)
    assert promoted.status_code == 200 and promoted.json() == {
        "company_id": ACME, "user_id": "u1", "role": "company_user", "change": "role_changed", "previous_role": "participant"}
    listed = await client.get(f"/v1/companies/{ACME}/users", params={"limit": 1}, headers=admin)
    assert [m["user_id"] for m in listed.json()["items"]] == ["boss"] and listed.json()["next_cursor"]
    page2 = await client.get(f"/v1/companies/{ACME}/users", params={"cursor": listed.json()["next_cursor"]}, headers=admin)
    assert [(m["user_id"], m["role"]) for m in page2.json()["items"]] == [("u1", "company_user")]
    assert page2.json()["next_cursor"] is None

    removed = await client.delete(f"/v1/companies/{ACME}/users/u1", headers=admin)
    assert removed.status_code == 204
    again = await client.delete(f"/v1/companies/{ACME}/users/u1", headers=admin)
    assert again.status_code == 404 and again.headers["content-type"] == PROBLEM
    assert await members_of(gateway, ACME) == {"boss": "admin"}

    changes = await events(bus, gateway, CHANGED, at_least=4)
    assert [(e["data"]["user_id"], e["data"]["change"], e["data"]["role"]) for e in changes] == [
        ("boss", "added", "admin"), ("u1", "added", "participant"), ("u1", "role_changed", "company_user"), ("u1", "removed", None)]
    assert {e["tenantid"] for e in changes} == {ACME} and {e["data"]["company_id"] for e in changes} == {ACME}
    assert changes[1]["subject"] == "u1"
    audited = [(r["action"], r["actor"]) for r in await audit_rows(gateway, outcome="changed")]
    assert audited == [("company.created", "boss"), ("membership.added", "boss"), ("membership.added", "boss"),
                       ("membership.role_changed", "boss"), ("membership.removed", "boss")]
    company = await client.get(f"/v1/companies/{ACME}", headers=auth(settings, sub="boss", roles=ADMIN))
    assert company.status_code == 200 and company.json()["members"] == 1


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/companies", {"company_id": "Not Valid", "name": "x"}, "company_id"),
        ("/v1/companies", {"company_id": ACME}, "name"),
        ("/v1/companies", {"company_id": ACME, "name": "x", "plan": "gold"}, "plan"),
        (f"/v1/companies/{ACME}/users", {"user_id": "u9", "role": "owner"}, "role"),
        (f"/v1/companies/{ACME}/users", {"user_id": "  ", "role": "admin"}, "user_id"),
        (f"/v1/companies/{ACME}/users", {"role": "admin"}, "user_id"),
    ],
)
async def test_bad_input_is_a_422_that_says_what_is_wrong_and_stores_nothing(gateway, client, settings, bus, path, body, where):
    await add_member(gateway, ACME, "boss", "admin")
    r = await client.post(path, json=body, headers=auth(settings, sub="boss", roles=ADMIN))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert where in r.json()["detail"]
    assert await members_of(gateway, ACME) == {"boss": "admin"}
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM companies") == 1
    assert await events(bus, gateway, CHANGED) == []


async def test_company_registration_rules(gateway, client, settings):
    boss = auth(settings, sub="boss", roles=ADMIN)
    other = await client.post("/v1/companies", json={"company_id": GLOBEX, "name": "Globex"}, headers=boss)
    assert other.status_code == 403 and other.json()["reason"] == "not_your_tenant"
    staff = await client.post("/v1/companies", json={"company_id": ACME, "name": "Acme"}, headers=auth(settings, sub="s1"))
    assert staff.status_code == 403 and staff.json()["reason"] == "role_not_allowed"
    assert (await client.post("/v1/companies", json={"company_id": ACME, "name": "Acme"}, headers=boss)).status_code == 201
    dup = await client.post("/v1/companies", json={"company_id": ACME, "name": "Acme 2"}, headers=boss)
    assert dup.status_code == 409 and "already registered" in dup.json()["detail"]
    platform = auth(settings, sub="ops", tenant="platform", roles=("platform-admin",))
    made = await client.post("/v1/companies", json={"company_id": GLOBEX, "name": "Globex", "admin_user_id": "g1"}, headers=platform)
    assert made.status_code == 201 and await members_of(gateway, GLOBEX) == {"g1": "admin"}
    assert [r["reason"] for r in await audit_rows(gateway, outcome="denied")] == ["not_your_tenant", "role_not_allowed"]


async def test_the_last_admin_can_be_neither_removed_nor_demoted(gateway, client, settings):
    await add_member(gateway, ACME, "boss", "admin")
    admin = auth(settings, sub="boss", roles=ADMIN)
    demote = await client.post(f"/v1/companies/{ACME}/users", json={"user_id": "boss", "role": "participant"}, headers=admin)
    assert demote.status_code == 409 and "last admin" in demote.json()["detail"]
    remove = await client.delete(f"/v1/companies/{ACME}/users/boss", headers=admin)
    assert remove.status_code == 409
    assert await members_of(gateway, ACME) == {"boss": "admin"}
    await client.post(f"/v1/companies/{ACME}/users", json={"user_id": "deputy", "role": "admin"}, headers=admin)
    assert (await client.delete(f"/v1/companies/{ACME}/users/boss", headers=admin)).status_code == 204


ADMIN_ROUTES = [
    ("GET", f"/v1/companies/{GLOBEX}", None),
    ("GET", f"/v1/companies/{GLOBEX}/users", None),
    ("POST", f"/v1/companies/{GLOBEX}/users", {"user_id": "spy", "role": "admin"}),
    ("DELETE", f"/v1/companies/{GLOBEX}/users/g1", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_another_tenants_company_is_a_404_audited_and_announced(gateway, client, settings, bus, method, path, body):
    await add_member(gateway, ACME, "boss", "admin")
    await add_member(gateway, GLOBEX, "g1", "admin")
    r = await client.request(method, path, json=body, headers=auth(settings, sub="boss", roles=ADMIN))
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert "reason" not in r.json()  # the same answer as for a company that does not exist
    assert await members_of(gateway, GLOBEX) == {"g1": "admin"}
    [row] = await audit_rows(gateway, outcome="denied")
    assert (row["company_id"], row["actor"], row["reason"], row["detail"]) == (ACME, "boss", "cross_tenant", {"target_company": GLOBEX})
    [event] = await events(bus, gateway, "gateway.access.denied.v1", at_least=1)
    assert event["data"]["status"] == 404 and event["data"]["reason"] == "cross_tenant"


@pytest.mark.parametrize(("method", "path", "body"), [*ADMIN_ROUTES, ("GET", "/v1/api-keys", None), ("GET", "/v1/audit-logs", None),
                                                      ("POST", "/v1/api-keys", {"name": "ci"})])
async def test_admin_routes_need_a_valid_token_and_an_admin_membership(gateway, client, settings, method, path, body):
    await add_member(gateway, GLOBEX, "g1", "admin")
    await add_member(gateway, GLOBEX, "staff", "company_user")
    assert (await client.request(method, path, json=body)).status_code == 401
    bad = await client.request(method, path, json=body, headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401 and bad.json()["reason"] == "invalid_token"
    staff = await client.request(method, path, json=body, headers=auth(settings, sub="staff", tenant=GLOBEX, roles=ADMIN))
    assert staff.status_code == 403 and staff.json()["reason"] == "stale_token_roles"
    if path != f"/v1/companies/{GLOBEX}":  # reading the company is open to every member
        member = await client.request(method, path, json=body, headers=auth(settings, sub="staff", tenant=GLOBEX))
        assert member.status_code == 403 and member.json()["reason"] == "role_not_allowed"
    outsider = await client.request(method, path, json=body, headers=auth(settings, sub="nobody", tenant=GLOBEX, roles=ADMIN))
    assert outsider.status_code == 403 and outsider.json()["reason"] == "not_a_member"
    assert await members_of(gateway, GLOBEX) == {"g1": "admin", "staff": "company_user"}


# --- the membership cache ------------------------------------------------------------------


async def test_the_membership_is_cached_and_the_event_invalidates_it(gateway, client, settings, bus, echoes):
    await add_member(gateway, ACME, "u1", "company_user")
    assert (await client.get("/api/kintell/x", headers=auth(settings))).status_code == 200
    # Removed behind the gateway's back: the cache still answers (proof that it is used) ...
    async with gateway.pool.acquire() as conn:
        await conn.execute("DELETE FROM company_users WHERE user_id = 'u1'")
    assert (await client.get("/api/kintell/x", headers=auth(settings))).status_code == 200
    assert metric(gateway, "gateway_cache_lookups_total", {"cache": "membership", "result": "hit"}) >= 1
    # ... until the membership.changed event says otherwise.
    event = new_event(CHANGED, {"user_id": "u1", "company_id": ACME, "change": "removed", "changed_at": datetime.now(UTC)},
                      source="test", tenantid=ACME)
    await bus.publish(gateway.naming.subject(CHANGED), event.to_json(), headers={"Nats-Msg-Id": event.msg_id})

    async def denied():
        return (await client.get("/api/kintell/x", headers=auth(settings))).status_code == 403

    await eventually(denied)
    assert metric(gateway, "gateway_cache_invalidations_total", {"source": "broadcast"}) >= 1


async def test_a_change_on_one_replica_reaches_the_cache_of_another(make_gateway, settings, echoes):
    one = await make_gateway()
    two = await make_gateway()
    await add_member(one, ACME, "boss", "admin")
    await add_member(one, ACME, "u1", "company_user")
    async with client_for(one) as c1, client_for(two) as c2:
        assert (await c2.get("/api/kintell/x", headers=auth(settings))).status_code == 200  # cached on replica two
        assert (await c2.get("/api/kintell/x", headers=auth(settings, sub="late"))).status_code == 403  # cached: not a member
        admin = auth(settings, sub="boss", roles=ADMIN)
        assert (await c1.delete(f"/v1/companies/{ACME}/users/u1", headers=admin)).status_code == 204
        added = await c1.post(f"/v1/companies/{ACME}/users", json={"user_id": "late", "role": "company_user"}, headers=admin)
        assert added.status_code == 201
        # replica one knows at once (it made the change) ...
        assert (await c1.get("/api/kintell/x", headers=auth(settings))).status_code == 403
        assert (await c1.get("/api/kintell/x", headers=auth(settings, sub="late"))).status_code == 200

        # ... replica two when the event reaches it (the 5-minute TTL is far away)
        async def converged():
            gone = (await c2.get("/api/kintell/x", headers=auth(settings))).status_code == 403
            joined = (await c2.get("/api/kintell/x", headers=auth(settings, sub="late"))).status_code == 200
            return gone and joined

        await eventually(converged)
    assert metric(two, "gateway_cache_invalidations_total", {"source": "broadcast"}) >= 2


async def test_a_nats_reconnect_clears_the_in_process_cache(gateway, client, settings):
    """Invalidations published while a replica was disconnected are lost to it (core NATS):
    after a reconnect it forgets every cached membership rather than trust them for 5 minutes."""
    await add_member(gateway, ACME, "u1", "company_user")
    assert (await client.get("/api/kintell/x", headers=auth(settings))).status_code == 200
    async with gateway.pool.acquire() as conn:
        await conn.execute("DELETE FROM company_users WHERE user_id = 'u1'")
    assert (await client.get("/api/kintell/x", headers=auth(settings))).status_code == 200  # still cached
    gateway.nc.stats["reconnects"] += 1  # what the client library counts when it reconnects
    assert (await client.get("/api/kintell/x", headers=auth(settings))).status_code == 403
    assert metric(gateway, "gateway_cache_invalidations_total", {"source": "reconnect"}) == 1


async def test_the_audit_trail_is_per_company_and_paginated(gateway, client, settings):
    await add_member(gateway, ACME, "boss", "admin")
    await add_member(gateway, GLOBEX, "g1", "admin")
    for _ in range(3):  # three denials in acme
        await client.get("/api/kintell/x", headers=auth(settings, sub="stranger"))
    await client.get("/api/kintell/x", headers=auth(settings, sub="spy", tenant=GLOBEX))  # one in globex
    admin = auth(settings, sub="boss", roles=ADMIN)
    first = await client.get("/v1/audit-logs", params={"outcome": "denied", "limit": 2}, headers=admin)
    assert first.status_code == 200
    second = await client.get("/v1/audit-logs", params={"outcome": "denied", "cursor": first.json()["next_cursor"]}, headers=admin)
    rows = first.json()["items"] + second.json()["items"]
    assert [(r["actor"], r["company_id"], r["reason"]) for r in rows] == [("stranger", ACME, "not_a_member")] * 3
    assert rows[0]["id"] > rows[1]["id"] > rows[2]["id"] and second.json()["next_cursor"] is None
    theirs = await client.get("/v1/audit-logs", headers=auth(settings, sub="g1", tenant=GLOBEX, roles=ADMIN))
    assert [r["actor"] for r in theirs.json()["items"]] == ["spy"]
    bad = await client.get("/v1/audit-logs", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=admin)
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
    async with gateway.pool.acquire() as conn:  # append-only
        with pytest.raises(Exception, match="append-only"):
            await conn.execute("DELETE FROM audit_logs")
