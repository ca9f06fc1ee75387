"""HTTP routes over real NATS and Postgres: mappings, manual flags, lists, auth and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest

from services.unified_profile.tests.factories import ref
from services.unified_profile.tests.support import (
    OTHER_TENANT,
    auth,
    lookup,
    milestones_of,
    publish_fact,
    updates_of,
    wait_for_profile,
)
from summit_common.auth import mint_token
from tests.fixtures import DEV_SECRET
from tests.helpers import pages_of

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


async def create_profile(client, settings, system: str = "discord", external_id: str = "D-1", *, tenant: str = "acme") -> dict:
    r = await client.post("/v1/profiles/mappings", json={"system": system, "external_id": external_id},
                          headers=auth(settings, tenant=tenant))
    assert r.status_code == 201, r.text
    return r.json()


async def get(client, settings, profile_id: str, *, tenant: str = "acme") -> dict:
    r = await client.get(f"/v1/profiles/{profile_id}", headers=auth(settings, tenant=tenant))
    assert r.status_code == 200, r.text
    return r.json()


async def put_flags(client, settings, profile_id: str, flags: dict, **kw):
    return await client.put(f"/v1/profiles/{profile_id}", json={"flags": flags}, headers=auth(settings, **kw))


# --- mappings --------------------------------------------------------------------------------


async def test_mappings_link_identities_so_events_from_two_systems_land_on_one_profile(runtime, bus, client, settings):
    created = await create_profile(client, settings, "discord", "D-1")
    pid = created["profile_id"]
    assert created["version"] == 1
    assert [(i["system"], i["external_id"]) for i in created["identities"]] == [("discord", "D-1")]

    for system, external_id in [("kintell", "K-20"), ("buddy", "B-20")]:
        r = await client.post("/v1/profiles/mappings", json={"profile_id": pid, "system": system, "external_id": external_id},
                              headers=auth(settings))
        assert r.status_code == 201, r.text
    again = await client.post("/v1/profiles/mappings", json={"profile_id": pid, "system": "buddy", "external_id": "B-20"},
                              headers=auth(settings))
    assert again.status_code == 200 and again.json()["version"] == 3  # linking twice changes nothing

    await publish_fact(bus, runtime, "kintell.session.completed.v1", ref("kintell", "K-20"), "S-1")
    await publish_fact(bus, runtime, "buddy.match.created.v1", ref("buddy", "B-20"), "M-1")
    profile = await wait_for_profile(client, settings, "buddy", "B-20",
                                     lambda p: p["flags"]["has_completed_language"] and p["flags"]["is_buddy_matched"])
    assert profile["profile_id"] == pid
    assert {(i["system"], i["external_id"]) for i in profile["identities"]} == {
        ("discord", "D-1"), ("kintell", "K-20"), ("buddy", "B-20")}
    assert (await lookup(client, settings, "kintell", "K-20"))["profile_id"] == pid
    everyone = (await client.get("/v1/profiles", headers=auth(settings))).json()["items"]
    assert [p["profile_id"] for p in everyone] == [pid]

    updates = await updates_of(bus, runtime, pid, at_least=5)
    assert sorted(u["data"]["version"] for u in updates) == [1, 2, 3, 4, 5]
    link = next(u for u in updates if u["data"]["version"] == 3)
    assert link["data"]["changed"] == ["identities"]
    assert {(i["system"], i["id"]) for i in link["data"]["identities"]} == {
        ("discord", "D-1"), ("kintell", "K-20"), ("buddy", "B-20")}


async def test_linking_an_identity_of_another_profile_is_a_409_and_merges_nothing(runtime, bus, client, settings):
    await publish_fact(bus, runtime, "buddy.match.created.v1", ref("buddy", "B-30"), "M-1")
    theirs = await wait_for_profile(client, settings, "buddy", "B-30", lambda p: p["flags"]["is_buddy_matched"])
    ours = await create_profile(client, settings, "discord", "D-30")

    r = await client.post("/v1/profiles/mappings",
                          json={"profile_id": ours["profile_id"], "system": "buddy", "external_id": "B-30"},
                          headers=auth(settings))
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["conflicting_profile_id"] == theirs["profile_id"]
    assert problem["identity"] == {"system": "buddy", "external_id": "B-30"}
    assert "buddy:B-30" in problem["detail"] and theirs["profile_id"] in problem["detail"]

    assert (await get(client, settings, ours["profile_id"]))["version"] == ours["version"]
    assert [i["external_id"] for i in (await get(client, settings, ours["profile_id"]))["identities"]] == ["D-30"]
    assert (await lookup(client, settings, "buddy", "B-30"))["profile_id"] == theirs["profile_id"]
    assert len(await updates_of(bus, runtime, ours["profile_id"])) == 1  # only its creation


async def test_mapping_without_profile_id_for_a_known_identity_returns_its_profile(runtime, client, settings):
    first = await create_profile(client, settings, "email_hash", "ab12")
    r = await client.post("/v1/profiles/mappings", json={"system": "email_hash", "external_id": "ab12"}, headers=auth(settings))
    assert r.status_code == 200
    assert r.json()["profile_id"] == first["profile_id"] and r.json()["version"] == 1


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"system": "Discord!", "external_id": "D-1"}, "system"),
        ({"system": "discord", "external_id": "   "}, "external_id"),
        ({"system": "discord"}, "external_id"),
        ({"profile_id": "not-a-uuid", "system": "discord", "external_id": "D-1"}, "profile_id"),
        ({"system": "discord", "external_id": "D-1", "merge": True}, "merge"),
    ],
)
async def test_bad_mapping_input_is_a_422_and_stores_nothing(runtime, client, settings, body, where):
    r = await client.post("/v1/profiles/mappings", json=body, headers=auth(settings))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert where in r.json()["detail"]
    assert (await client.get("/v1/profiles", headers=auth(settings))).json()["items"] == []


async def test_mapping_to_a_profile_that_does_not_exist_is_a_404(runtime, client, settings):
    r = await client.post("/v1/profiles/mappings",
                          json={"profile_id": "0190a0a0-0000-7000-8000-000000000000", "system": "discord", "external_id": "D-1"},
                          headers=auth(settings))
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert await lookup(client, settings, "discord", "D-1") is None


# --- manual flags ----------------------------------------------------------------------------


async def test_a_milestone_is_emitted_once_even_when_its_flag_goes_off_and_on(runtime, bus, client, settings):
    person = ref("kintell", "K-50")
    await publish_fact(bus, runtime, "upskilling.credential.issued.v1", person, "CR-1")
    profile = await wait_for_profile(client, settings, "kintell", "K-50", lambda p: p["flags"]["has_credential"])
    pid = profile["profile_id"]

    off = await put_flags(client, settings, pid, {"has_credential": False})
    assert off.status_code == 200 and off.json()["flags"]["has_credential"] is False
    on = await put_flags(client, settings, pid, {"has_credential": True, "is_buddy_matched": True})
    assert on.status_code == 200 and on.json()["flags"]["has_credential"] is True
    await put_flags(client, settings, pid, {"has_credential": False})
    await publish_fact(bus, runtime, "upskilling.credential.issued.v1", person, "CR-2", minute=5)  # turns it on again
    profile = await wait_for_profile(client, settings, "kintell", "K-50", lambda p: p["counters"]["credentials"] == 2)
    assert profile["flags"]["has_credential"] is True
    assert profile["version"] == 5

    milestones = await milestones_of(bus, runtime, pid, at_least=2)
    assert sorted(m["data"]["milestone"] for m in milestones) == ["has_credential", "is_buddy_matched"]
    manual = next(m for m in milestones if m["data"]["milestone"] == "is_buddy_matched")
    assert manual["data"]["trigger_type"] is None
    assert {m["milestone"] for m in profile["milestones"]} == {"has_credential", "is_buddy_matched"}

    updates = await updates_of(bus, runtime, pid, at_least=5)
    assert sorted(u["data"]["version"] for u in updates) == [1, 2, 3, 4, 5]
    assert next(u for u in updates if u["data"]["version"] == 2)["data"]["changed"] == ["has_credential"]


async def test_putting_flags_that_are_already_set_changes_nothing(runtime, bus, client, settings):
    pid = (await create_profile(client, settings))["profile_id"]
    r = await put_flags(client, settings, pid, {"has_credential": False})
    assert r.status_code == 200 and r.json()["version"] == 1
    assert len(await updates_of(bus, runtime, pid)) == 1


async def test_unknown_flags_are_a_422_naming_them_and_change_nothing(runtime, bus, client, settings):
    pid = (await create_profile(client, settings))["profile_id"]
    r = await put_flags(client, settings, pid, {"has_credential": True, "is_vip": True, "loves_cats": False})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["unknown_flags"] == ["is_vip", "loves_cats"]
    assert "is_vip" in r.json()["detail"] and "loves_cats" in r.json()["detail"]
    profile = await get(client, settings, pid)
    assert profile["version"] == 1 and profile["flags"]["has_credential"] is False

    not_bool = await put_flags(client, settings, pid, {"has_credential": "yes"})
    assert not_bool.status_code == 422 and "has_credential" in not_bool.json()["detail"]
    assert len(await updates_of(bus, runtime, pid)) == 1


@pytest.mark.parametrize(("roles", "status"), [
    (("company_user",), 200), (("admin",), 200), (("platform-admin",), 200), (("participant",), 403), ((), 403),
])
async def test_writes_need_company_user_or_admin(runtime, client, settings, roles, status):
    pid = (await create_profile(client, settings))["profile_id"]
    r = await put_flags(client, settings, pid, {"has_credential": True}, roles=roles)
    assert r.status_code == status, r.text
    m = await client.post("/v1/profiles/mappings", json={"profile_id": pid, "system": "kintell", "external_id": "K-9"},
                          headers=auth(settings, roles=roles))
    assert m.status_code == (201 if status == 200 else 403)
    if status == 403:
        assert (await get(client, settings, pid))["version"] == 1
    # Reads need only a valid token of the tenant.
    assert (await client.get(f"/v1/profiles/{pid}", headers=auth(settings, roles=roles))).status_code == 200


# --- lists -----------------------------------------------------------------------------------


async def test_list_filters_by_flag_and_pages_with_a_cursor(runtime, client, settings):
    pids = [(await create_profile(client, settings, "discord", f"D-{n}"))["profile_id"] for n in range(5)]
    matched = [pids[0], pids[2], pids[4]]
    for pid in matched:
        assert (await put_flags(client, settings, pid, {"is_buddy_matched": True})).status_code == 200

    pages = await pages_of(client, "/v1/profiles", auth(settings), flag="is_buddy_matched", limit=2)
    seen = [p["profile_id"] for page in pages for p in page]
    assert seen == sorted(matched) and len(pages) == 2
    everyone = (await client.get("/v1/profiles", params={"limit": 200}, headers=auth(settings))).json()
    assert sorted(p["profile_id"] for p in everyone["items"]) == sorted(pids) and everyone["next_cursor"] is None
    assert all("milestones" not in p for p in everyone["items"])


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"flag": "is_vip"}, 422, "is_vip"),
        ({"system": "kintell"}, 422, "external_id"),
        ({"limit": 0}, 400, "limit"),
        ({"limit": 201}, 400, "limit"),
        ({"cursor": "garbage!"}, 400, "cursor"),
        ({"cursor": "WyJub3QtYS11dWlkIl0"}, 400, "cursor"),  # ["not-a-uuid"]
    ],
)
async def test_bad_list_queries_say_what_is_wrong(runtime, client, settings, params, status, says):
    r = await client.get("/v1/profiles", params=params, headers=auth(settings))
    assert r.status_code == status and r.headers["content-type"] == PROBLEM
    assert says in r.json()["detail"] or says in r.json()["title"]


# --- tenancy and auth ------------------------------------------------------------------------


async def test_another_tenants_profile_is_a_404_on_every_route_and_is_audited(runtime, client, settings):
    ours = await create_profile(client, settings, "kintell", "K-60")
    pid = ours["profile_id"]

    r = await client.get(f"/v1/profiles/{pid}", headers=auth(settings, tenant=OTHER_TENANT))
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    r = await put_flags(client, settings, pid, {"has_credential": True}, tenant=OTHER_TENANT)
    assert r.status_code == 404
    r = await client.post("/v1/profiles/mappings", json={"profile_id": pid, "system": "discord", "external_id": "D-60"},
                          headers=auth(settings, tenant=OTHER_TENANT))
    assert r.status_code == 404
    assert await lookup(client, settings, "kintell", "K-60", tenant=OTHER_TENANT) is None
    listed = (await client.get("/v1/profiles", headers=auth(settings, tenant=OTHER_TENANT))).json()
    assert listed["items"] == []
    flagged = (await client.get("/v1/profiles", params={"flag": "has_credential"},
                                headers=auth(settings, tenant=OTHER_TENANT))).json()
    assert flagged["items"] == []

    after = await get(client, settings, pid)
    assert after["version"] == 1 and after["flags"]["has_credential"] is False
    assert [i["external_id"] for i in after["identities"]] == ["K-60"]
    async with runtime.pool.acquire() as conn:
        audited = await conn.fetch("SELECT tenant_id, resource FROM audit_log WHERE outcome = 'denied_cross_tenant'")
    assert len(audited) == 3 and {a["tenant_id"] for a in audited} == {OTHER_TENANT}
    assert all(pid in a["resource"] for a in audited)

    # The other tenant can have its own profile for the same identity.
    theirs = await create_profile(client, settings, "kintell", "K-60", tenant=OTHER_TENANT)
    assert theirs["profile_id"] != pid
    # Only platform-admin crosses tenants.
    admin = await client.get(f"/v1/profiles/{pid}", headers=auth(settings, tenant=OTHER_TENANT, roles=("platform-admin",)))
    assert admin.status_code == 200 and admin.json()["tenant"] == "acme"


async def test_a_missing_profile_is_a_404_without_an_audit_row(runtime, client, settings):
    for profile_id in ["0190a0a0-0000-7000-8000-000000000000", "not-a-uuid"]:
        r = await client.get(f"/v1/profiles/{profile_id}", headers=auth(settings))
        assert r.status_code == 404 and profile_id in r.json()["detail"]
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0


def _expired_token() -> str:
    return jwt.encode({"sub": "u1", "tenant": "acme", "roles": ["admin"], "exp": datetime(2020, 1, 1, tzinfo=UTC),
                       "iss": "summit"}, DEV_SECRET, algorithm="HS256")


BAD_AUTH = {
    "no token": {},
    "not bearer": {"Authorization": "Basic dTE6cHc="},
    "garbage": {"Authorization": "Bearer not.a.jwt"},
    "wrong key": {"Authorization": "Bearer " + mint_token("another-secret-that-is-long-enough-0123456789", sub="u1",
                                                          tenant="acme", roles=["admin"])},
    "expired": {"Authorization": "Bearer " + _expired_token()},
}


@pytest.mark.parametrize("case", sorted(BAD_AUTH))
async def test_every_route_needs_a_valid_token(runtime, client, settings, case):
    pid = (await create_profile(client, settings))["profile_id"]
    headers = BAD_AUTH[case]
    calls = [
        client.get(f"/v1/profiles/{pid}", headers=headers),
        client.get("/v1/profiles", params={"system": "discord", "external_id": "D-1"}, headers=headers),
        client.put(f"/v1/profiles/{pid}", json={"flags": {"has_credential": True}}, headers=headers),
        client.post("/v1/profiles/mappings", json={"profile_id": pid, "system": "kintell", "external_id": "K-1"}, headers=headers),
    ]
    for call in calls:
        r = await call
        assert r.status_code == 401, (case, r.request.url, r.text)
        assert r.headers["content-type"] == PROBLEM
    assert (await get(client, settings, pid))["version"] == 1

