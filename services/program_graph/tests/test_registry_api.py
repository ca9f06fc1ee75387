"""The versioned registry over real Postgres: CRUD, versions and history, validation, import."""

from __future__ import annotations

import pytest

from services.program_graph.tests.support import TENANT, auth, cap, put_nodes, reader, svc

pytestmark = pytest.mark.integration


async def _version(runtime) -> int:
    async with runtime.pool.acquire() as conn:
        return await conn.fetchval("SELECT coalesce(max(version), 0) FROM programs WHERE tenant_id = $1", TENANT)


async def test_every_change_is_a_version_and_history_is_readable(client, runtime, settings):
    assert await put_nodes(client, settings, svc("a"), cap("a", "service:a", duration=2)) == 2
    r = await client.get("/v1/program/nodes/cap:a", headers=reader(settings))
    assert r.status_code == 200 and r.headers["etag"] == '"2"'
    assert r.json()["duration"] == 2 and r.json()["revision"] == 2 and r.json()["program_version"] == 2
    assert (await client.get("/v1/program/nodes/service:a", headers=reader(settings))).json()["dependents"] == ["cap:a"]

    put = await client.put("/v1/program/nodes/cap:a", json={"kind": "capability", "depends_on": ["service:a"], "duration": 5},
                           headers=auth(settings))
    assert put.status_code == 200 and put.json()["program_version"] == 3
    assert put.json()["changes"] == [{"op": "updated", "node_id": "cap:a"}]
    delete = await client.delete("/v1/program/nodes/cap:a", headers=auth(settings))
    assert delete.status_code == 200 and delete.json()["program_version"] == 4

    assert (await client.get("/v1/program/nodes/cap:a", headers=reader(settings))).status_code == 404
    old = await client.get("/v1/program/nodes/cap:a", params={"version": 2}, headers=reader(settings))
    assert old.status_code == 200 and old.json()["duration"] == 2
    assert (await client.get("/v1/program/nodes/cap:a", params={"version": 3}, headers=reader(settings))).json()["duration"] == 5
    history = (await client.get("/v1/program/nodes/cap:a/history", headers=reader(settings))).json()["items"]
    assert [(h["revision"], h["until"], h["node"]["duration"]) for h in history] == [(2, 3, 2), (3, 4, 5)]
    log = (await client.get("/v1/program/versions", headers=reader(settings))).json()
    assert log["program_version"] == 4
    assert [(v["version"], v["changes"], v["changed_by"]) for v in log["items"]] == [
        (4, [{"op": "deleted", "node_id": "cap:a"}], "pm-1"), (3, [{"op": "updated", "node_id": "cap:a"}], "pm-1"),
        (2, [{"op": "created", "node_id": "cap:a"}], "pm-1"), (1, [{"op": "created", "node_id": "service:a"}], "pm-1")]
    listed = (await client.get("/v1/program/nodes", params={"version": 2}, headers=reader(settings))).json()
    assert [n["id"] for n in listed["items"]] == ["cap:a", "service:a"]


async def test_a_write_that_changes_nothing_makes_no_version(client, runtime, settings):
    await put_nodes(client, settings, svc("a"))
    same = await client.put("/v1/program/nodes/service:a", json=svc("a"), headers=auth(settings))
    assert same.status_code == 200 and same.json() == {**same.json(), "program_version": 1, "changes": []}
    assert await _version(runtime) == 1


@pytest.mark.parametrize(("nodes", "bad", "status", "detail"), [
    ([svc("a")], cap("x", "service:ghost"), 422, "cap:x depends on unknown service:ghost"),
    ([svc("a")], svc("a"), 409, "node service:a exists"),
    ([svc("a")], cap("x", "service:a", rule_pack="ghost"), 422, "cap:x: unknown rule pack 'ghost'; loaded: ci-only, release, standard"),
    ([svc("a")], cap("x", "service:a", rule_params={"nope": {}}), 422, "cap:x: rule_params.nope: standard@1 has no rule 'nope'"),
    ([svc("a")], cap("x", "service:a", rule_pack="none", rule_params={"a": {}}), 422, "rule_params given but the node has no rule pack"),
    ([], {"id": "svc", "kind": "service"}, 422, "body: Value error, a service node needs 'service'"),
    ([], {"id": "c", "kind": "capability", "colour": "red"}, 422, "body.colour: Extra inputs are not permitted"),
])
async def test_invalid_writes_say_why_and_store_nothing(client, runtime, settings, nodes, bad, status, detail):
    before = await put_nodes(client, settings, *nodes)
    r = await client.post("/v1/program/nodes", json=bad, headers=auth(settings))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.json()["detail"], r.json()["detail"]
    assert await _version(runtime) == before


async def test_a_cycle_is_rejected_naming_it(client, runtime, settings):
    await put_nodes(client, settings, cap("a"), cap("b", "cap:a"), cap("c", "cap:b"))
    r = await client.put("/v1/program/nodes/cap:a", json=cap("a", "cap:c"), headers=auth(settings))
    assert r.status_code == 422
    assert r.json()["detail"] == "dependency cycle: cap:a -> cap:c -> cap:b -> cap:a"
    assert r.json()["cycle"] == ["cap:a", "cap:c", "cap:b", "cap:a"]
    assert await _version(runtime) == 3
    assert (await client.get("/v1/program/nodes/cap:a", headers=reader(settings))).json()["depends_on"] == []


async def test_a_node_others_need_cannot_be_deleted(client, runtime, settings):
    await put_nodes(client, settings, svc("a"), cap("a", "service:a"), cap("b", "service:a"))
    r = await client.delete("/v1/program/nodes/service:a", headers=auth(settings))
    assert r.status_code == 409
    assert r.json()["detail"] == "cannot delete: service:a is needed by cap:a, cap:b"
    assert r.json()["dependents"] == {"service:a": ["cap:a", "cap:b"]}
    assert await _version(runtime) == 3


async def test_if_match_makes_a_replace_conditional(client, settings):
    await put_nodes(client, settings, cap("a"))
    stale = await client.put("/v1/program/nodes/cap:a", json=cap("a", duration=3), headers={**auth(settings), "If-Match": '"7"'})
    assert stale.status_code == 412 and "revision 1, not 7" in stale.json()["detail"]
    fresh = await client.put("/v1/program/nodes/cap:a", json=cap("a", duration=3), headers={**auth(settings), "If-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.json()["node"]["revision"] == 2
    created = await client.put("/v1/program/nodes/cap:new", json={"kind": "capability"}, headers=auth(settings))
    assert created.status_code == 201 and created.json()["node"]["id"] == "cap:new"
    mismatch = await client.put("/v1/program/nodes/cap:x", json=cap("y"), headers=auth(settings))
    assert mismatch.status_code == 422 and "is not the path's 'cap:x'" in mismatch.json()["detail"]


async def test_import_merges_or_replaces_in_one_version(client, runtime, settings):
    nodes = [svc("a"), svc("b"), cap("a", "service:a"), cap("b", "service:b", "cap:a")]
    r = await client.post("/v1/program/import", json={"nodes": nodes}, headers=auth(settings))
    assert r.status_code == 200 and r.json() == {"program_version": 1, "created": 4, "updated": 0, "deleted": 0, "unchanged": 0}
    again = await client.post("/v1/program/import", json={"nodes": nodes}, headers=auth(settings))
    assert again.json() == {"program_version": 1, "created": 0, "updated": 0, "deleted": 0, "unchanged": 4}
    replace = await client.post("/v1/program/import", json={"nodes": nodes[:1] + [cap("a", "service:a", duration=4)], "mode": "replace"},
                                headers=auth(settings))
    assert replace.json() == {"program_version": 2, "created": 0, "updated": 1, "deleted": 2, "unchanged": 1}
    cycle = await client.post("/v1/program/import", json={"nodes": [cap("x", "cap:y"), cap("y", "cap:x")]}, headers=auth(settings))
    assert cycle.status_code == 422 and cycle.json()["detail"] == "dependency cycle: cap:x -> cap:y -> cap:x"
    dup = await client.post("/v1/program/import", json={"nodes": [cap("x"), cap("x")]}, headers=auth(settings))
    assert dup.status_code == 422 and dup.json()["detail"] == "listed twice: cap:x"
    assert await _version(runtime) == 2


async def test_writes_need_a_planner_role_and_reads_do_not(client, settings):
    r = await client.post("/v1/program/nodes", json=cap("a"), headers=auth(settings, roles=("company_user",)))
    assert r.status_code == 403 and "planner, operator, admin" in r.json()["detail"]
    assert (await client.get("/v1/program/nodes", headers=reader(settings))).status_code == 200


async def test_lists_page_and_filter_and_versions_must_exist(client, settings):
    await put_nodes(client, settings, svc("a"), svc("b"), cap("a", "service:a"), cap("b", "service:b"))
    first = (await client.get("/v1/program/nodes", params={"limit": 3}, headers=reader(settings))).json()
    assert [n["id"] for n in first["items"]] == ["cap:a", "cap:b", "service:a"]
    second = (await client.get("/v1/program/nodes", params={"limit": 3, "cursor": first["next_cursor"]}, headers=reader(settings))).json()
    assert [n["id"] for n in second["items"]] == ["service:b"] and second["next_cursor"] is None
    services = (await client.get("/v1/program/nodes", params={"kind": "service"}, headers=reader(settings))).json()
    assert [n["id"] for n in services["items"]] == ["service:a", "service:b"]
    versions = (await client.get("/v1/program/versions", params={"limit": 3}, headers=reader(settings))).json()
    assert [v["version"] for v in versions["items"]] == [4, 3, 2]
    rest = (await client.get("/v1/program/versions", params={"cursor": versions["next_cursor"]}, headers=reader(settings))).json()
    assert [v["version"] for v in rest["items"]] == [1]
    missing = await client.get("/v1/program/nodes", params={"version": 9}, headers=reader(settings))
    assert missing.status_code == 404 and missing.json()["detail"] == "program version 9 does not exist; the program is at version 4"
    assert (await client.get("/v1/program/nodes", params={"version": 0}, headers=reader(settings))).status_code == 422
    assert (await client.get("/v1/program/nodes", params={"cursor": "bad"}, headers=reader(settings))).status_code == 400
