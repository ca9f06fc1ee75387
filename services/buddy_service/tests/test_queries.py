"""Query routes over real Postgres: a match with its counts, tenant isolation on every route
(404 + audit, 401 without a valid token), filters, and cursor pagination."""

from __future__ import annotations

import pytest

from services.buddy_service.tests.support import auth, import_csv, import_samples, sample
from summit_common.auth import mint_token
from tests.helpers import pages_of

pytestmark = pytest.mark.integration


@pytest.fixture
async def imported(client, runtime, settings):
    """acme holds the four samples; returns their import reports."""
    return await import_samples(client, settings)


async def _audit_rows(runtime) -> list:
    async with runtime.pool.acquire() as conn:
        return await conn.fetch("SELECT tenant_id, actor, resource, outcome FROM audit_log ORDER BY id")


async def test_a_match_with_the_counts_of_its_records(client, settings, imported):
    r = await client.get("/v1/matches/BM-1001", headers=auth(settings))
    assert r.status_code == 200
    got = r.json()
    assert got["counts"] == {"events": 2, "checkins": 2, "feedback": 2}
    assert got["last_activity_at"] == "2024-03-15T09:00:00+00:00"  # check-in BC-7006
    assert (got["participant"], got["buddy"]) == ({"system": "buddy", "id": "BP-201"}, {"system": "buddy", "id": "BB-301"})
    assert (got["matched_at"], got["program"], got["origin"], got["import_id"]) == (
        "2024-02-01T10:00:00+00:00", "Oslo Welcome", "csv", imported[0]["import_id"])
    lonely = (await client.get("/v1/matches/BM-1005", headers=auth(settings))).json()
    assert lonely["counts"] == {"events": 1, "checkins": 1, "feedback": 1}


async def test_a_match_without_records_has_zero_counts(client, settings):
    await import_csv(client, settings, "matches", sample("matches.csv"))
    got = (await client.get("/v1/matches/BM-1003", headers=auth(settings))).json()
    assert got["counts"] == {"events": 0, "checkins": 0, "feedback": 0} and got["last_activity_at"] is None
    assert got["matched_at"] == "2024-02-05T14:00:00+00:00"  # 05/02/2024 14:00 is DD/MM


async def test_another_tenants_match_is_404_and_audited(client, runtime, settings, imported):
    r = await client.get("/v1/matches/BM-1001", headers=auth(settings, tenant="beta", sub="snoop"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert [tuple(a) for a in await _audit_rows(runtime)] == [("beta", "snoop", "match BM-1001", "denied_cross_tenant")]


async def test_a_missing_match_is_404_without_an_audit_entry(client, runtime, settings, imported):
    r = await client.get("/v1/matches/NOPE", headers=auth(settings))
    assert r.status_code == 404 and "match NOPE does not exist" in r.json()["detail"]
    assert await _audit_rows(runtime) == []


async def test_another_tenants_import_is_404_and_audited(client, runtime, settings, imported):
    mine = await client.get(f"/v1/imports/{imported[1]['import_id']}", headers=auth(settings))
    assert mine.status_code == 200
    assert mine.json()["sections"][0]["kind"] == "events" and mine.json()["imported_by"] == "importer-1"
    theirs = await client.get(f"/v1/imports/{imported[1]['import_id']}", headers=auth(settings, tenant="beta"))
    assert theirs.status_code == 404
    assert [a["outcome"] for a in await _audit_rows(runtime)] == ["denied_cross_tenant"]


async def test_the_list_shows_only_the_callers_tenant(client, settings, imported):
    await import_csv(client, settings, "matches", b"match_id,participant_id,buddy_id,matched_at\nBETA-1,P,B,2024-01-01\n",
                     tenant="beta")
    theirs = (await client.get("/v1/matches", headers=auth(settings, tenant="beta"))).json()
    assert [m["match_id"] for m in theirs["items"]] == ["BETA-1"]
    mine = (await client.get("/v1/matches", headers=auth(settings))).json()
    assert [m["match_id"] for m in mine["items"]] == ["BM-1005", "BM-1004", "BM-1003", "BM-1002", "BM-1001"]
    assert mine["next_cursor"] is None


ROUTES = [
    ("GET", "/v1/matches"),
    ("GET", "/v1/matches/BM-1001"),
    ("GET", "/v1/imports/some-id"),
    ("POST", "/v1/import/matches"),
    ("POST", "/v1/import"),
    ("POST", "/v1/matches"),
    ("POST", "/v1/events"),
    ("POST", "/v1/checkins"),
    ("POST", "/v1/feedback"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", ["none", "wrong-key", "expired", "not-bearer"])
async def test_every_route_needs_a_valid_token(client, runtime, settings, method, path, token):
    headers = {
        "none": {},
        "wrong-key": {"Authorization": "Bearer " + mint_token("another-key-entirely-0123456789-abcdef", sub="x", tenant="acme",
                                                              roles=["company_user"])},
        "expired": {"Authorization": "Bearer " + mint_token(settings.jwt_secret, sub="x", tenant="acme", roles=["company_user"],
                                                            ttl_seconds=-60)},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[token]
    r = await client.request(method, path, headers={**headers, "Content-Type": "text/csv"},
                             content=sample("matches.csv") if method == "POST" else None)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM buddy_matches") == 0


async def test_pagination_walks_every_match_once_newest_first(client, settings):
    rows = ["match_id,participant_id,buddy_id,matched_at"]
    rows += [f"T-{i:02d},P-{i},B-{i},2024-01-{i % 3 + 1:02d}T10:00:00Z" for i in range(11)]  # many ties on matched_at
    await import_csv(client, settings, "matches", "\n".join(rows).encode())
    pages = await pages_of(client, "/v1/matches", auth(settings), limit=4)
    assert all(len(page) <= 4 for page in pages)
    seen = [item for page in pages for item in page]
    assert len(pages) == 3
    assert len({m["match_id"] for m in seen}) == len(seen) == 11
    keys = [(m["matched_at"], m["match_id"]) for m in seen]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"participant": "BP-203"}, {"BM-1003"}),
        ({"buddy": "BB-301"}, {"BM-1001", "BM-1004"}),
        ({"program": "Bergen Buddies"}, {"BM-1003", "BM-1004"}),
        ({"from": "2024-02-05T00:00:00Z", "to": "2024-02-12T00:00:00Z"}, {"BM-1003", "BM-1004"}),
        ({"from": "2024-02-12T12:00:00"}, {"BM-1005"}),  # naive is UTC; from is inclusive
        ({"buddy": "BB-301", "program": "Oslo Welcome"}, {"BM-1001"}),
    ],
)
async def test_filters(client, settings, params, expected):
    await import_csv(client, settings, "matches", sample("matches.csv"))
    r = await client.get("/v1/matches", params=params, headers=auth(settings))
    assert r.status_code == 200
    assert {m["match_id"] for m in r.json()["items"]} == expected


@pytest.mark.parametrize(
    ("params", "status"),
    [({"cursor": "not-a-cursor"}, 400), ({"cursor": "WzFd"}, 400), ({"limit": 0}, 400), ({"limit": 201}, 400),
     ({"from": "yesterday"}, 422)],
)
async def test_bad_query_parameters_are_problems(client, settings, params, status):
    r = await client.get("/v1/matches", params=params, headers=auth(settings))
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
