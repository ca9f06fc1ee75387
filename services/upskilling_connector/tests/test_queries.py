"""Query routes over real Postgres: filters, keyset pagination, single records, tenant isolation
(another tenant's record is a 404 and audited; lists only show the caller's tenant) and tokens."""

from __future__ import annotations

import pytest

from services.upskilling_connector.tests.support import auth, import_sample, post_import
from summit_common.auth import mint_token
from tests.helpers import pages_of

pytestmark = pytest.mark.integration


@pytest.fixture
async def imported(client, runtime, settings):
    """acme holds both providers' samples: 5 completions, 4 credentials, progress; returns the import ids."""
    ids = []
    for kind, provider, name in [
        ("completions", "ecornell", "ecornell_completions.csv"),
        ("completions", "itslearning", "itslearning_results.json"),
        ("credentials", "ecornell", "ecornell_certificates.csv"),
        ("credentials", "itslearning", "itslearning_badges.json"),
        ("progress", "itslearning", "itslearning_progress.json"),
    ]:
        r = await import_sample(client, settings, kind, provider, name)
        assert r.status_code == 201, r.text
        ids.append(r.json()["import_id"])
    return ids


async def _audit_rows(runtime) -> list:
    async with runtime.pool.acquire() as conn:
        return await conn.fetch("SELECT tenant_id, actor, resource, outcome FROM audit_log ORDER BY id")


async def _ids(client, settings, path: str, id_field: str, **params) -> list[str]:
    r = await client.get(path, params=params, headers=auth(settings))
    assert r.status_code == 200, r.text
    return [item[id_field] for item in r.json()["items"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["ecornell:EC-1001:ILRHR520", "itslearning:NO-ELEV-1043:1090", "itslearning:NO-ELEV-1042:1082-9/445",
              "ecornell:EC-1002:HAME509", "ecornell:EC-1003:CEDA501"]),
        ({"provider": "ecornell"}, ["ecornell:EC-1001:ILRHR520", "ecornell:EC-1002:HAME509", "ecornell:EC-1003:CEDA501"]),
        ({"participant": "NO-ELEV-1042"}, ["itslearning:NO-ELEV-1042:1082-9/445"]),
        ({"participant": "NO-ELEV-1042", "provider": "ecornell"}, []),
        ({"category": "language"}, ["itslearning:NO-ELEV-1042:1082-9/445", "ecornell:EC-1002:HAME509"]),
        ({"course": "CEDA501"}, ["ecornell:EC-1003:CEDA501"]),
        ({"from": "2024-03-01T00:00:00Z", "to": "2024-03-19T00:00:00Z"},
         ["itslearning:NO-ELEV-1043:1090", "itslearning:NO-ELEV-1042:1082-9/445"]),
        ({"from": "2024-03-19T04:00:00"}, ["ecornell:EC-1001:ILRHR520"]),  # naive = UTC, inclusive
    ],
)
async def test_completion_filters_newest_first(client, settings, imported, params, expected):
    assert await _ids(client, settings, "/v1/completions", "completion_id", **params) == expected


async def test_a_completion_by_id_including_one_with_a_slash(client, settings, imported):
    r = await client.get("/v1/completions/itslearning:NO-ELEV-1042:1082-9/445", headers=auth(settings))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["participant"] == {"system": "itslearning", "id": "NO-ELEV-1042"}
    assert (got["course_name"], got["score"], got["category"]) == ("Norsk A2 muntlig: Sluttprøve", 85.0, "language")
    assert got["import_id"] == imported[1]
    ecornell = (await client.get("/v1/completions/ecornell:EC-1001:ILRHR520", headers=auth(settings))).json()
    assert (ecornell["credits"], ecornell["certificate_id"]) == (1.2, "CL-88231")


async def test_credentials_list_filter_and_get(client, settings, imported):
    assert await _ids(client, settings, "/v1/credentials", "credential_id") == [
        "ecornell:CERT-2024-00502", "ecornell:CERT-2024-00417",
        "itslearning:311/4712", "itslearning:a7f3c1e2-0b9d-4c57-9e1a-2f6d8b4c0a11",
    ]
    assert await _ids(client, settings, "/v1/credentials", "credential_id", participant="4712") == ["itslearning:311/4712"]
    assert await _ids(client, settings, "/v1/credentials", "credential_id", provider="itslearning", **{"from": "2024-03-18T09:00:00Z"}) == [
        "itslearning:311/4712"]
    got = (await client.get("/v1/credentials/itslearning:311/4712", headers=auth(settings))).json()
    assert (got["name"], got["expires_at"]) == ("Digital kompetanse", "2026-03-18T00:00:00+00:00")


async def test_progress_list_holds_the_latest_per_course(client, settings, imported):
    r = await client.get("/v1/progress", params={"provider": "itslearning"}, headers=auth(settings))
    items = r.json()["items"]
    # 4714 had 40 % (results export, 20 March), then 55.5 % (progress export, 27 March): one row, the latest.
    assert [(p["participant"]["id"], p["course_id"], p["percent_complete"], p["updated_at"]) for p in items] == [
        ("4714", "1095", 55.5, "2024-03-27T12:00:00.123456+00:00"),
        ("NO-ELEV-1044", "1082-9", 70.0, "2024-03-24T09:00:00+00:00"),
    ]
    ecornell = await _ids(client, settings, "/v1/progress", "progress_id", provider="ecornell")
    assert ecornell == ["ecornell:EC-1005:CIS532", "ecornell:EC-1001:CIS531"]


async def test_pagination_walks_every_completion_once(client, settings, imported):
    pages = await pages_of(client, "/v1/completions", auth(settings), limit=2)
    assert all(len(page) <= 2 for page in pages)
    seen = [item for page in pages for item in page]
    assert len(pages) == 3
    assert len({c["completion_id"] for c in seen}) == len(seen) == 5
    keys = [(c["completed_at"], c["completion_id"]) for c in seen]
    assert keys == sorted(keys, reverse=True)


async def test_pagination_is_stable_when_times_tie(client, settings):
    header = "Learner ID,Course Code,Course Name,Status,Completion Date"
    rows = [f"EC-{i},C{i},Course {i},Complete,03/19/2024" for i in range(5)]
    await post_import(client, settings, "completions", "ecornell", "\n".join([header, *rows]).encode())
    first = (await client.get("/v1/completions?limit=3", headers=auth(settings))).json()
    second = (await client.get("/v1/completions", params={"limit": 3, "cursor": first["next_cursor"]},
                               headers=auth(settings))).json()
    ids = [c["completion_id"] for c in first["items"] + second["items"]]
    assert ids == [f"ecornell:EC-{i}:C{i}" for i in range(4, -1, -1)]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [("/v1/completions", {"cursor": "not-a-cursor"}, 400), ("/v1/completions", {"cursor": "WzFd"}, 400),
     ("/v1/credentials", {"cursor": "WyJ4IiwxXQ"}, 400), ("/v1/completions", {"limit": 0}, 400),
     ("/v1/progress", {"limit": 201}, 400), ("/v1/completions", {"category": "cooking"}, 422),
     ("/v1/credentials", {"from": "yesterday"}, 422)],
)
async def test_bad_query_parameters_are_problems(client, settings, path, params, status):
    r = await client.get(path, params=params, headers=auth(settings))
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


# --- tenant isolation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "resource"),
    [("/v1/completions/ecornell:EC-1001:ILRHR520", "completion ecornell:EC-1001:ILRHR520"),
     ("/v1/credentials/ecornell:CERT-2024-00417", "credential ecornell:CERT-2024-00417")],
)
async def test_another_tenants_record_is_404_and_audited(client, runtime, settings, imported, path, resource):
    assert (await client.get(path, headers=auth(settings))).status_code == 200
    r = await client.get(path, headers=auth(settings, tenant="beta", sub="snoop"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert [tuple(a) for a in await _audit_rows(runtime)] == [("beta", "snoop", resource, "denied_cross_tenant")]


async def test_another_tenants_import_is_404_and_audited(client, runtime, settings, imported):
    mine = await client.get(f"/v1/imports/{imported[0]}", headers=auth(settings))
    assert mine.status_code == 200 and mine.json()["accepted"] == 5
    theirs = await client.get(f"/v1/imports/{imported[0]}", headers=auth(settings, tenant="beta"))
    assert theirs.status_code == 404
    assert [a["outcome"] for a in await _audit_rows(runtime)] == ["denied_cross_tenant"]


async def test_a_missing_record_is_404_without_an_audit_entry(client, runtime, settings, imported):
    for path in ("/v1/completions/ecornell:NOPE:X", "/v1/credentials/nope", "/v1/imports/nope"):
        assert (await client.get(path, headers=auth(settings))).status_code == 404
    assert await _audit_rows(runtime) == []


async def test_a_platform_admin_reads_their_own_tenant_in_lists(client, settings, imported):
    r = await client.get("/v1/completions", headers=auth(settings, tenant="ops", roles=("platform-admin",)))
    assert r.json()["items"] == []


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/credentials", "/v1/progress"])
async def test_lists_only_show_the_callers_tenant(client, settings, imported, path):
    theirs = await client.get(path, headers=auth(settings, tenant="beta"))
    assert theirs.status_code == 200 and theirs.json() == {"items": [], "next_cursor": None}
    assert len((await client.get(path, headers=auth(settings))).json()["items"]) >= 2


async def test_reads_need_no_particular_role_but_the_same_tenant(client, settings, imported):
    r = await client.get("/v1/completions", headers=auth(settings, roles=()))
    assert r.status_code == 200 and len(r.json()["items"]) == 5


ROUTES = [
    ("GET", "/v1/completions"), ("GET", "/v1/completions/ecornell:EC-1001:ILRHR520"), ("GET", "/v1/credentials"),
    ("GET", "/v1/credentials/ecornell:CERT-2024-00417"), ("GET", "/v1/progress"), ("GET", "/v1/imports/some-id"),
    ("GET", "/v1/providers"), ("POST", "/v1/import/course-completions?provider=ecornell"),
    ("POST", "/v1/import/credentials?provider=ecornell"), ("POST", "/v1/import/progress?provider=ecornell"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", ["none", "wrong-key", "expired", "not-bearer"])
async def test_every_route_needs_a_valid_token(client, runtime, settings, method, path, token):
    headers = {
        "none": {},
        "wrong-key": {"Authorization": "Bearer " + mint_token("another-key-entirely-0123456789-abcdef", sub="x", tenant="acme")},
        "expired": {"Authorization": "Bearer " + mint_token(settings.jwt_secret, sub="x", tenant="acme", ttl_seconds=-60)},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[token]
    r = await client.request(method, path, headers={**headers, "Content-Type": "text/csv"},
                             content=b"Learner ID,Course Code,Course Name,Status,Completion Date\nEC-1,C1,X,Complete,03/19/2024\n"
                             if method == "POST" else None)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM completions") == 0
