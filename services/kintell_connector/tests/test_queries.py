"""Query routes over real Postgres: tenant isolation on every route (404 + audit, 401 without
a valid token), filters, and cursor pagination."""

from __future__ import annotations

import pytest

from services.kintell_connector.tests.support import auth, import_csv, sample
from summit_common.auth import mint_token
from tests.helpers import pages_of

pytestmark = pytest.mark.integration


@pytest.fixture
async def imported(client, runtime, settings):
    """acme holds the language and mentorship samples (10 sessions); returns the import ids."""
    ids = []
    for name in ("language_sessions.csv", "mentorship_sessions.csv"):
        r = await import_csv(client, settings, sample(name))
        assert r.status_code == 201
        ids.append(r.json()["import_id"])
    return ids


async def _audit_rows(runtime) -> list:
    async with runtime.pool.acquire() as conn:
        return await conn.fetch("SELECT tenant_id, actor, resource, outcome FROM audit_log ORDER BY id")


async def test_another_tenants_session_is_404_and_audited(client, runtime, settings, imported):
    assert (await client.get("/v1/sessions/KS-1001", headers=auth(settings))).status_code == 200
    r = await client.get("/v1/sessions/KS-1001", headers=auth(settings, tenant="beta", sub="snoop"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    rows = await _audit_rows(runtime)
    assert [(a["tenant_id"], a["actor"], a["resource"], a["outcome"]) for a in rows] == [
        ("beta", "snoop", "session KS-1001", "denied_cross_tenant")
    ]


async def test_a_missing_session_is_404_without_an_audit_entry(client, runtime, settings, imported):
    r = await client.get("/v1/sessions/NOPE", headers=auth(settings))
    assert r.status_code == 404
    assert await _audit_rows(runtime) == []


async def test_another_tenants_import_is_404(client, runtime, settings, imported):
    mine = await client.get(f"/v1/imports/{imported[0]}", headers=auth(settings))
    assert mine.status_code == 200 and mine.json()["accepted"] == 6
    theirs = await client.get(f"/v1/imports/{imported[0]}", headers=auth(settings, tenant="beta"))
    assert theirs.status_code == 404
    assert [a["outcome"] for a in await _audit_rows(runtime)] == ["denied_cross_tenant"]


async def test_the_list_shows_only_the_callers_tenant(client, settings, imported):
    theirs = await client.get("/v1/sessions", headers=auth(settings, tenant="beta"))
    assert theirs.status_code == 200 and theirs.json() == {"items": [], "next_cursor": None}
    mine = await client.get("/v1/sessions", headers=auth(settings))
    assert len(mine.json()["items"]) == 10


ROUTES = [
    ("GET", "/v1/sessions"),
    ("GET", "/v1/sessions/KS-1001"),
    ("GET", "/v1/imports/some-id"),
    ("POST", "/v1/import/kintell-sessions"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", ["none", "wrong-key", "expired", "not-bearer"])
async def test_every_jwt_route_needs_a_valid_token(client, runtime, settings, method, path, token):
    headers = {
        "none": {},
        "wrong-key": {"Authorization": "Bearer " + mint_token("another-key-entirely-0123456789-abcdef", sub="x", tenant="acme")},
        "expired": {"Authorization": "Bearer " + mint_token(settings.jwt_secret, sub="x", tenant="acme", ttl_seconds=-60)},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[token]
    r = await client.request(method, path, headers={**headers, "Content-Type": "text/csv"},
                             content=sample("language_sessions.csv") if method == "POST" else None)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM kintell_sessions") == 0


async def test_pagination_walks_every_session_once_newest_first(client, settings, imported):
    pages = await pages_of(client, "/v1/sessions", auth(settings), limit=3)
    assert all(len(page) <= 3 for page in pages)
    seen = [item for page in pages for item in page]
    assert len(pages) == 4
    assert len({s["session_id"] for s in seen}) == len(seen) == 10
    keys = [(s["started_at"], s["session_id"]) for s in seen]
    assert keys == sorted(keys, reverse=True)


async def test_pagination_is_stable_when_start_times_tie(client, settings):
    rows = ["session_id,session_type,participant_id,volunteer_id,start_time,duration_minutes,status"]
    rows += [f"T-{i:02d},mentor,P,V,2024-01-01T10:00:00Z,30,completed" for i in range(7)]
    await import_csv(client, settings, "\n".join(rows).encode())
    first = (await client.get("/v1/sessions?limit=4", headers=auth(settings))).json()
    second = (await client.get("/v1/sessions", params={"limit": 4, "cursor": first["next_cursor"]}, headers=auth(settings))).json()
    ids = [s["session_id"] for s in first["items"] + second["items"]]
    assert ids == [f"T-{i:02d}" for i in range(6, -1, -1)]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "mentorship"}, {"KM-2001", "KM-2002", "KM-2003", "KM-2004"}),
        ({"participant": "KP-201"}, {"KS-1001", "KS-1004"}),
        ({"status": "scheduled"}, {"KS-1004", "KM-2003"}),
        ({"type": "language", "from": "2024-03-05T00:00:00Z", "to": "2024-03-07T00:00:00Z"}, {"KS-1002", "KS-1003", "KS-1005"}),
        ({"from": "2024-04-01T00:00:00"}, {"KS-1004"}),
    ],
)
async def test_filters(client, settings, imported, params, expected):
    r = await client.get("/v1/sessions", params=params, headers=auth(settings))
    assert r.status_code == 200
    assert {s["session_id"] for s in r.json()["items"]} == expected


@pytest.mark.parametrize(
    ("params", "status"),
    [({"cursor": "not-a-cursor"}, 400), ({"cursor": "WzFd"}, 400), ({"limit": 0}, 400), ({"limit": 201}, 400),
     ({"type": "cooking"}, 422), ({"from": "yesterday"}, 422)],
)
async def test_bad_query_parameters_are_problems(client, settings, params, status):
    r = await client.get("/v1/sessions", params=params, headers=auth(settings))
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


async def test_single_session_includes_its_ratings(client, settings, imported):
    got = (await client.get("/v1/sessions/KM-2001", headers=auth(settings))).json()
    assert got["participant"] == {"system": "kintell", "id": "KP-301"}
    assert got["topics"] == ["CV review", "LinkedIn"]
    assert got["ratings"] == [{
        "rating_id": "KM-2001:participant", "rater_role": "participant", "rated_by": {"system": "kintell", "id": "KP-301"},
        "score": 5, "comment": "Great advice", "created_at": "2024-03-04T11:00:00+00:00",
    }]
