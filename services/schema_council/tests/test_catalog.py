"""The contract catalogue, deprecations and change logs over real NATS and Postgres, and
tenant isolation plus authentication on every route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.schema_council.domain import split_versioned
from services.schema_council.tests.support import (
    EVENT,
    PROBLEM,
    SDL_V1,
    admin,
    audit_log,
    auth,
    breaking_change,
    count,
    create,
    events,
    move,
    reviewer,
)
from summit_common.auth import mint_token
from summit_common.catalog import export_catalog

pytestmark = pytest.mark.integration
ENTITY = "governance.proposal.submitted"


def days(n: int) -> str:
    return (datetime.now(UTC) + timedelta(days=n)).isoformat()


async def all_entries(client, settings, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        query = {"limit": 7, **params, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/catalog", params=query, headers=auth(settings))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


async def test_the_catalogue_lists_every_platform_contract_with_owner_and_versions(client, settings):
    platform = export_catalog()
    entries = await all_entries(client, settings)
    by = {e["contract"]: e for e in entries}
    entities = {split_versioned(e["type"])[0] for e in platform["events"]}
    assert set(by) == entities | {s["name"] for s in platform["services"]}
    for event in platform["events"]:
        entity, major = split_versioned(event["type"])
        version = next(v for v in by[entity]["versions"] if v["version"] == f"v{major}")
        assert (version["owner"], version["producers"], version["consumers"]) == (
            event["owner"], event["producers"], event["consumers"])
        assert version["status"] == "active" and version["deprecation"] is None
        assert version["compatibility"] == "BACKWARD_TRANSITIVE"
    for svc in platform["services"]:
        entry = by[svc["name"]]
        assert entry["kind"] == "openapi" and entry["versions"][0]["version"] == svc["version"]
        assert entry["versions"][0]["endpoints"] == len(svc["http"])
    assert [e["contract"] for e in entries] == sorted(by)  # paginated once each, in order
    for bad in ("W10", "%%%"):  # '[]' and not base64
        assert (await client.get("/v1/catalog", params={"cursor": bad}, headers=auth(settings))).status_code == 400
    apis = await all_entries(client, settings, kind="openapi")
    assert {e["contract"] for e in apis} == {s["name"] for s in platform["services"]}

    one = (await client.get(f"/v1/catalog/{ENTITY}", headers=auth(settings))).json()
    assert one["contract"] == ENTITY and one["owner"] == "schema-council"
    pinned = (await client.get(f"/v1/catalog/{ENTITY}.v1", headers=auth(settings))).json()
    assert pinned["selected_version"] == "v1"
    assert (await client.get(f"/v1/catalog/{ENTITY}.v9", headers=auth(settings))).status_code == 404
    missing = await client.get("/v1/catalog/no.such.thing", headers=auth(settings))
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


async def test_deprecation_window_event_and_idempotent_repeat(client, runtime, bus, settings):
    body = {"version": "v1", "sunset_at": days(120), "replacement": f"{ENTITY}.v2", "notice": "move to v2"}
    r = await client.post(f"/v1/catalog/{ENTITY}/deprecate", json=body, headers=reviewer(settings))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["contract"] == ENTITY and out["version"] == "v1" and out["window_days"] in (119, 120)
    assert out["changed"] is True and out["window_overridden"] is False
    again = await client.post(f"/v1/catalog/{ENTITY}/deprecate", json=body, headers=reviewer(settings))
    assert again.status_code == 200 and again.json()["changed"] is False
    [event] = await events(bus, runtime, "governance.contract.deprecated.v1", at_least=1)
    assert event["data"]["contract"] == ENTITY and event["data"]["version"] == "v1"
    assert event["data"]["replacement"] == f"{ENTITY}.v2" and event["data"]["notice"] == "move to v2"

    entry = (await client.get(f"/v1/catalog/{ENTITY}", headers=auth(settings))).json()
    assert entry["versions"][0]["status"] == "deprecated"
    assert entry["versions"][0]["deprecation"]["replacement"] == f"{ENTITY}.v2"
    assert entry["status"] == "deprecated"
    listed = await all_entries(client, settings, status="deprecated")
    assert [e["contract"] for e in listed] == [ENTITY]
    # Other tenants' catalogues do not see this tenant's deprecation.
    theirs = (await client.get(f"/v1/catalog/{ENTITY}", headers=auth(settings, tenant="beta"))).json()
    assert theirs["versions"][0]["status"] == "active"

    # The versioned path names the version; moving the sunset is an update that is announced again.
    moved = await client.post(f"/v1/catalog/{ENTITY}.v1/deprecate", json={"sunset_at": days(200)},
                              headers=reviewer(settings))
    assert moved.status_code == 200 and moved.json()["changed"] is True
    assert len(await events(bus, runtime, "governance.contract.deprecated.v1", at_least=2)) == 2


@pytest.mark.parametrize(("path", "body", "who", "status", "detail"), [
    (ENTITY, {"version": "v1", "sunset_at": days(30)}, "reviewer", 422, "at least 90 days"),
    (ENTITY, {"version": "v1", "sunset_at": days(30), "override_window": True}, "reviewer", 403, "only an admin"),
    (ENTITY, {"version": "v1", "sunset_at": days(-1), "override_window": True}, "admin", 422, "in the future"),
    (ENTITY, {"version": "v7", "sunset_at": days(120)}, "reviewer", 422, "no version"),
    (ENTITY, {"sunset_at": days(120)}, "reviewer", 422, "version is required"),
    (f"{ENTITY}.v1", {"version": "v2", "sunset_at": days(120)}, "reviewer", 422, "the path names v1"),
    (ENTITY, {"version": "v1"}, "reviewer", 422, "sunset_at"),
    (ENTITY, {"version": "v1", "sunset_at": days(120)}, "user", 403, "schema_reviewer"),
    ("no.such.contract", {"version": "v1", "sunset_at": days(120)}, "reviewer", 404, "does not exist"),
])
async def test_bad_deprecations_change_nothing(client, runtime, settings, path, body, who, status, detail):
    headers = {"reviewer": reviewer(settings), "admin": admin(settings), "user": auth(settings)}[who]
    r = await client.post(f"/v1/catalog/{path}/deprecate", json=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM and detail in r.json()["detail"]
    assert await count(runtime, "deprecations") == 0
    assert await count(runtime, "outbox") == 0


async def test_an_admin_can_override_the_window(client, settings):
    r = await client.post("/v1/catalog/schema-council/deprecate",
                          json={"version": "1", "sunset_at": days(14), "override_window": True}, headers=admin(settings))
    assert r.status_code == 201, r.text
    assert r.json()["version"] == "1.0.0" and r.json()["window_overridden"] is True


async def test_the_changelog_lists_decided_proposals_and_deprecations(client, settings):
    accepted = await create(client, settings, proposal_id="breaks", proposed=breaking_change())
    await move(client, settings, "breaks", "review", auth(settings))
    r = await move(client, settings, "breaks", "approved", reviewer(settings), accept_breaking=True, reason="agreed")
    assert r.status_code == 200
    await create(client, settings, proposal_id="rejected-one", kind="graphql", contract="partner-api", proposed=SDL_V1)
    await move(client, settings, "rejected-one", "review", auth(settings))
    await move(client, settings, "rejected-one", "rejected", reviewer(settings))
    await create(client, settings, proposal_id="still-draft")
    await client.post(f"/v1/catalog/{ENTITY}/deprecate", json={"version": "v1", "sunset_at": days(100)},
                      headers=reviewer(settings))

    js = (await client.get("/v1/changelog?format=json", headers=auth(settings))).json()
    assert [(e["proposal_id"], e["decision"]) for e in js["entries"]] == [("rejected-one", "rejected"),
                                                                         ("breaks", "approved")]
    breaks = js["entries"][1]
    assert breaks["breaking"] is True and breaks["accepted_breaking_reason"] == "agreed"
    assert [c["id"] for c in breaks["changes"]] == [c["id"] for c in accepted["diff"]["changes"]]
    assert [d["contract"] for d in js["deprecations"]] == [ENTITY]

    md = await client.get("/v1/changelog", params={"format": "markdown", "since": "2000-01-01"}, headers=auth(settings))
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert f"`{EVENT}` (jsonschema): approved" in md.text and "Breaking change accepted: agreed" in md.text
    assert "`partner-api` (graphql): rejected" in md.text and "still-draft" not in md.text
    assert "## Deprecations" in md.text

    future = (await client.get("/v1/changelog", params={"since": "2999-01-01"}, headers=auth(settings))).json()
    assert future["entries"] == [] and future["deprecations"] == [] and future["since"] == "2999-01-01"
    bad = await client.get("/v1/changelog", params={"since": "last tuesday"}, headers=auth(settings))
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    theirs = (await client.get("/v1/changelog", headers=auth(settings, tenant="beta"))).json()
    assert theirs["entries"] == [] and theirs["deprecations"] == []


# --- tenant isolation and authentication -------------------------------------------------


async def test_another_tenants_proposal_is_404_everywhere_and_audited(client, runtime, settings):
    pid = (await create(client, settings, proposal_id="secret"))["proposal_id"]
    beta = auth(settings, tenant="beta", sub="snoop", roles=("schema_reviewer",))
    for method, path, body in [
        ("GET", f"/v1/proposals/{pid}", None),
        ("POST", f"/v1/proposals/{pid}/comments", {"body": "hi"}),
        ("POST", f"/v1/proposals/{pid}/transition", {"to": "review"}),
    ]:
        r = await client.request(method, path, json=body, headers=beta)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, (path, r.text)
    assert (await client.get("/v1/proposals", headers=beta)).json() == {"items": [], "next_cursor": None}
    rows = await audit_log(runtime)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("beta", "snoop", "read", "proposal secret", "denied_cross_tenant"),
        ("beta", "snoop", "comment", "proposal secret", "denied_cross_tenant"),
        ("beta", "snoop", "transition", "proposal secret", "denied_cross_tenant"),
    ]
    mine = (await client.get(f"/v1/proposals/{pid}", headers=auth(settings))).json()
    assert mine["status"] == "draft" and mine["comments"] == []
    # A missing id in one's own tenant is a plain 404, not an audited probe.
    assert (await client.get("/v1/proposals/nope", headers=auth(settings))).status_code == 404
    assert len(await audit_log(runtime)) == 3


async def test_another_tenants_contract_is_404_and_audited(client, runtime, settings):
    created = await create(client, settings, proposal_id="g1", kind="graphql", contract="partner-api", proposed=SDL_V1)
    await move(client, settings, created["proposal_id"], "review", auth(settings))
    await move(client, settings, created["proposal_id"], "approved", reviewer(settings))
    assert (await client.get("/v1/catalog/partner-api", headers=auth(settings))).status_code == 200
    beta = auth(settings, tenant="beta", sub="snoop", roles=("schema_reviewer",))
    assert (await client.get("/v1/catalog/partner-api", headers=beta)).status_code == 404
    r = await client.post("/v1/catalog/partner-api/deprecate", json={"version": "1", "sunset_at": days(100)}, headers=beta)
    assert r.status_code == 404
    assert [(r[0], r[2], r[3], r[4]) for r in await audit_log(runtime)] == [
        ("beta", "read", "contract partner-api", "denied_cross_tenant"),
        ("beta", "deprecate", "contract partner-api", "denied_cross_tenant"),
    ]
    assert [e["contract"] for e in await all_entries(client, settings, source="tenant")] == ["partner-api"]
    theirs = (await client.get("/v1/catalog", params={"source": "tenant"}, headers=beta)).json()
    assert theirs["items"] == []


ROUTES = [
    ("GET", "/v1/proposals"),
    ("POST", "/v1/proposals"),
    ("GET", "/v1/proposals/x"),
    ("POST", "/v1/proposals/x/comments"),
    ("POST", "/v1/proposals/x/transition"),
    ("POST", "/v1/diff"),
    ("GET", "/v1/catalog"),
    ("GET", f"/v1/catalog/{ENTITY}"),
    ("POST", f"/v1/catalog/{ENTITY}/deprecate"),
    ("GET", "/v1/changelog"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", ["none", "wrong-key", "expired", "not-bearer"])
async def test_every_route_needs_a_valid_token(client, runtime, settings, method, path, token):
    headers = {
        "none": {},
        "wrong-key": {"Authorization": "Bearer " + mint_token("another-key-entirely-0123456789-abcdef", sub="x",
                                                              tenant="acme", roles=["admin"])},
        "expired": {"Authorization": "Bearer " + mint_token(settings.jwt_secret, sub="x", tenant="acme",
                                                            roles=["admin"], ttl_seconds=-60)},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[token]
    body = {"version": "v1", "sunset_at": days(120)} if path.endswith("deprecate") else {}
    r = await client.request(method, path, headers=headers, json=body if method == "POST" else None)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert await count(runtime, "proposals") == 0 and await count(runtime, "deprecations") == 0


async def test_health_and_docs_stay_open(client):
    assert (await client.get("/healthz")).status_code == 200
    doc = (await client.get("/asyncapi.json")).json()
    assert {op["action"] for op in doc["operations"].values()} == {"send"}
