"""docs-hub over real NATS and Postgres: refresh (versions, freshness, idempotency, coverage
events read off the stream), the docs and coverage queries, bad input, roles."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from services.docs_hub import domain, scan
from services.docs_hub.tests.support import (
    KINTELL_README,
    OTHER,
    TENANT,
    auth,
    count,
    coverage_events,
    doc_id,
    docs,
    expected_docs,
    refresh,
    service_names,
    write,
)

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"
KINTELL = "services/kintell_connector/README.md"


# --- refresh ----------------------------------------------------------------------------------


async def test_refresh_indexes_specs_readmes_adrs_and_runbooks(client, runtime, settings):
    seen = expected_docs()
    summary = await refresh(client, settings, commit="abc1234")
    assert summary["documents"] == {"seen": seen, "new": seen, "changed": 0, "unchanged": 0, "restored": 0, "removed": 0}
    assert summary["versions_created"] == seen and summary["commit"] == "abc1234"
    assert summary["skipped"] == ["services/orphan_thing/README.md: services/orphan_thing is not a service in the catalogue"]
    assert await count(runtime, "documents", TENANT) == seen
    assert await count(runtime, "document_versions", TENANT) == seen
    assert {s["service"] for s in summary["coverage"]["services"]} == service_names()

    items = (await docs(client, settings, limit=200)).json()["items"]
    by_key = {d["key"]: d for d in items}
    readme = by_key[KINTELL]
    assert readme["kind"] == "readme" and readme["services"] == ["kintell-connector"] and readme["version"] == 1
    assert readme["sha256"] == hashlib.sha256(KINTELL_README.encode()).hexdigest()
    assert readme["first_seen_at"] == readme["last_changed_at"] == readme["last_verified_at"]
    assert readme["stale"] is False
    assert by_key["docs/adr/0001-outbox.md"]["services"] == ["kintell-connector"]
    assert by_key["docs/runbooks/unified_profile-recovery.md"]["kind"] == "runbook"
    assert by_key["openapi:docs-hub"]["served_at"] == "/openapi.json"
    assert {"service": "kintell-connector", "endpoint": "GET /v1/sessions/{session_id}"} in readme["links"]["endpoints"]
    assert {"service": "kintell-connector", "event": "kintell.session.completed.v1"} in readme["links"]["events"]


async def test_every_refresh_emits_one_coverage_event_per_service(client, runtime, bus, settings):
    summary = await refresh(client, settings, commit="abc1234")
    names = service_names()
    events = await coverage_events(bus, runtime, at_least=len(names))
    assert sorted(e["subject"] for e in events) == sorted(names)
    assert {e["tenantid"] for e in events} == {TENANT} and {e["source"] for e in events} == {"docs-hub"}
    reported = {e["subject"]: e["data"] for e in events}
    for item in summary["coverage"]["services"]:
        data = reported[item["service"]]
        assert data["service"] == item["service"] and data["commit"] == "abc1234"
        assert data["endpoint_coverage"] == pytest.approx(item["endpoints"]["coverage"], abs=1e-4)
        assert data["event_coverage"] == pytest.approx(item["events"]["coverage"], abs=1e-4)
    # a refresh without changes still reports
    await refresh(client, settings)
    again = await coverage_events(bus, runtime, at_least=2 * len(names))
    assert len(again) == 2 * len(names)
    assert sum(1 for e in again if e["data"]["commit"] is None) == len(names)


async def test_a_second_refresh_without_changes_creates_no_versions(client, runtime, settings):
    first = await refresh(client, settings)
    before = (await client.get(f"/v1/docs/{await doc_id(client, settings, KINTELL)}", headers=auth(settings))).json()
    second = await refresh(client, settings)
    seen = first["documents"]["seen"]
    assert second["versions_created"] == 0
    assert second["documents"] == {"seen": seen, "new": 0, "changed": 0, "unchanged": seen, "restored": 0, "removed": 0}
    assert await count(runtime, "document_versions", TENANT) == seen
    assert await count(runtime, "refreshes", TENANT) == 2
    after = (await client.get(f"/v1/docs/{before['doc_id']}", headers=auth(settings))).json()
    assert after["version"] == 1 and [v["version"] for v in after["versions"]] == [1]
    assert after["last_changed_at"] == before["last_changed_at"] and after["first_seen_at"] == before["first_seen_at"]
    assert after["last_verified_at"] > before["last_verified_at"]
    assert second["coverage"] == first["coverage"]


async def test_a_changed_readme_gets_a_new_version_and_keeps_the_old_one(client, runtime, repo, settings):
    await refresh(client, settings, commit="c1")
    edited = KINTELL_README + "\nAlso `GET /v1/sessions` lists them.\n"
    write(repo, KINTELL, edited)
    summary = await refresh(client, settings, commit="c2")
    assert summary["documents"]["changed"] == 1 and summary["versions_created"] == 1
    ident = await doc_id(client, settings, KINTELL)
    doc = (await client.get(f"/v1/docs/{ident}", headers=auth(settings))).json()
    assert doc["version"] == 2 and doc["sha256"] == hashlib.sha256(edited.encode()).hexdigest()
    assert [(v["version"], v["commit_sha"]) for v in doc["versions"]] == [(2, "c2"), (1, "c1")]
    assert doc["last_changed_at"] == doc["last_verified_at"] > doc["first_seen_at"]
    old = (await client.get(f"/v1/docs/{ident}/versions/1", headers=auth(settings))).json()
    assert old["content"] == KINTELL_README and old["sha256"] == hashlib.sha256(KINTELL_README.encode()).hexdigest()
    new = (await client.get(f"/v1/docs/{ident}/versions/2", headers=auth(settings))).json()
    assert new["content"] == edited
    # the new mention is linked and counted
    cov = (await client.get("/v1/coverage", params={"service": "kintell-connector"}, headers=auth(settings))).json()
    assert "GET /v1/sessions" not in cov["services"][0]["endpoints"]["undocumented"]


async def test_a_removed_doc_is_hidden_and_comes_back_without_a_new_version(client, runtime, repo, settings):
    await refresh(client, settings)
    ident = await doc_id(client, settings, "docs/adr/0001-outbox.md")
    adr = repo / "docs/adr/0001-outbox.md"
    text = adr.read_text()
    adr.unlink()
    gone = await refresh(client, settings)
    assert gone["documents"]["removed"] == 1 and gone["versions_created"] == 0
    keys = [d["key"] for d in (await docs(client, settings, limit=200)).json()["items"]]
    assert "docs/adr/0001-outbox.md" not in keys
    removed = (await client.get(f"/v1/docs/{ident}", headers=auth(settings))).json()
    assert removed["removed_at"] is not None
    adr.write_text(text)
    back = await refresh(client, settings)
    assert back["documents"]["restored"] == 1 and back["versions_created"] == 0
    restored = (await client.get(f"/v1/docs/{ident}", headers=auth(settings))).json()
    assert restored["removed_at"] is None and restored["version"] == 1


async def test_concurrent_refreshes_store_each_version_once(client, runtime, settings):
    first, second = await asyncio.gather(refresh(client, settings), refresh(client, settings))
    seen = expected_docs()
    assert sorted([first["versions_created"], second["versions_created"]]) == [0, seen]
    assert await count(runtime, "document_versions", TENANT) == seen


# --- queries ----------------------------------------------------------------------------------


async def test_docs_of_a_service(client, settings):
    await refresh(client, settings)
    r = await docs(client, settings, service="kintell-connector")
    assert r.status_code == 200
    assert [d["key"] for d in r.json()["items"]] == [
        KINTELL, "openapi:kintell-connector", "asyncapi:kintell-connector", "docs/adr/0001-outbox.md"]
    assert r.json()["indexed"]["refresh_id"]


async def test_docs_of_an_endpoint_in_any_parameter_spelling(client, settings):
    await refresh(client, settings)
    for spelling in ("GET /v1/sessions/{id}", "GET /v1/sessions/{session_id}", "GET /v1/sessions/:sid", "GET /v1/sessions/KS-1"):
        body = (await docs(client, settings, endpoint=spelling)).json()
        assert [d["key"] for d in body["items"]] == [KINTELL, "openapi:kintell-connector"], spelling
        assert body["matched_endpoints"] == [{"method": "GET", "path": "/v1/sessions/{session_id}"}]
    # a path without a method: every method; routes of several services
    body = (await docs(client, settings, endpoint="/v1/profiles/{id}")).json()
    assert {(m["method"], m["path"]) for m in body["matched_endpoints"]} == {
        ("GET", "/v1/profiles/{profile_id}"), ("PUT", "/v1/profiles/{profile_id}")}
    assert [d["key"] for d in body["items"]] == [
        "services/unified_profile/README.md", "openapi:unified-profile", "docs/runbooks/unified_profile-recovery.md"]


async def test_docs_by_capability_and_kind(client, settings):
    await refresh(client, settings)
    keys = [d["key"] for d in (await docs(client, settings, capability="webhooks")).json()["items"]]
    assert KINTELL in keys and "openapi:kintell-connector" in keys  # a heading; the kintell-webhooks tag
    assert "services/unified_profile/README.md" not in keys
    keys = [d["key"] for d in (await docs(client, settings, capability="outbox")).json()["items"]]
    assert keys == ["docs/adr/0001-outbox.md"]
    keys = [d["key"] for d in (await docs(client, settings, kind="runbook")).json()["items"]]
    assert keys == ["docs/runbooks/unified_profile-recovery.md"]
    assert (await docs(client, settings, capability="no-such-thing-anywhere")).json()["items"] == []


async def test_json_pages_walk_every_doc_once(client, settings):
    await refresh(client, settings)
    seen, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        body = (await docs(client, settings, **params)).json()
        assert len(body["items"]) <= 4
        seen += [d["key"] for d in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == expected_docs()


async def test_the_markdown_bundle(client, settings):
    await refresh(client, settings)
    r = await docs(client, settings, service="kintell-connector", format="markdown")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    text = r.text
    assert text.startswith("# Summit docs\n\n4 document(s).")
    assert "## kintell-connector\n" in text and "#### Webhooks" in text  # the README's headings nest two levels down
    assert "## OpenAPI: kintell-connector" in text and "| GET | `/v1/sessions/{session_id}` |" in text
    assert "## AsyncAPI: kintell-connector" in text and "| send | `kintell.session.completed.v1` |" in text
    first = await docs(client, settings, service="kintell-connector", format="markdown", limit=3)
    assert first.text.count("\n## ") == 3
    rest = await docs(client, settings, service="kintell-connector", format="markdown", cursor=first.headers["x-next-cursor"])
    assert "## ADR 0001: one outbox per service" in rest.text and "x-next-cursor" not in rest.headers


async def test_include_content_returns_the_current_text(client, settings):
    await refresh(client, settings)
    body = (await docs(client, settings, kind="readme", service="kintell-connector", include_content="true")).json()
    assert body["items"][0]["content"] == KINTELL_README


async def test_coverage_matches_the_rules_applied_to_the_same_checkout(client, repo, settings):
    await refresh(client, settings)
    found = scan.scan(repo)
    links = domain.compute_links(found.docs, found.catalogue)
    expected = {c.service: c.as_dict() for c in domain.compute_coverage(found.catalogue, links, {d.key: d.kind for d in found.docs})}
    body = (await client.get("/v1/coverage", headers=auth(settings))).json()
    assert {s["service"]: s for s in body["services"]} == expected
    kintell = expected["kintell-connector"]
    assert "GET /v1/sessions/{session_id}" not in kintell["endpoints"]["undocumented"]  # written as {id}
    assert "GET /v1/sessions" in kintell["endpoints"]["undocumented"]
    # the fixture README names neither that event nor the DSAR events the chassis answers
    assert kintell["events"]["undocumented"] == ["kintell.rating.created.v1", "privacy.deletion.confirmed.v1",
                                                 "privacy.deletion.requested.v1", "privacy.export.answered.v1",
                                                 "privacy.export.requested.v1"]
    assert body["overall"]["endpoints"]["total"] == sum(s["endpoints"]["total"] for s in expected.values())
    one = (await client.get("/v1/coverage", params={"service": "unified-profile"}, headers=auth(settings))).json()
    assert [s["service"] for s in one["services"]] == ["unified-profile"]
    assert one["overall"]["endpoints"]["coverage"] == one["services"][0]["endpoints"]["coverage"]


# --- bad input and roles ----------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"commit": "not a sha!"}, {"commit": "x" * 65}, {"commit": "abc", "extra": 1}, [1, 2]])
async def test_a_bad_refresh_body_is_422_and_stores_nothing(client, runtime, settings, body):
    r = await client.post("/v1/index:refresh", json=body, headers=auth(settings))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["detail"]
    assert await count(runtime, "refreshes") == await count(runtime, "documents") == await count(runtime, "outbox") == 0


async def test_a_missing_repository_is_503_and_stores_nothing(client, runtime, settings, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCS_HUB_REPO_ROOT", str(tmp_path / "nowhere"))
    runtime.app.state.docs_hub_settings = None  # read the environment again
    r = await client.post("/v1/index:refresh", headers=auth(settings))
    assert r.status_code == 503 and "DOCS_HUB_REPO_ROOT" in r.json()["detail"]
    assert await count(runtime, "refreshes") == await count(runtime, "documents") == 0


async def test_refresh_needs_the_admin_role(client, runtime, settings):
    r = await client.post("/v1/index:refresh", headers=auth(settings, roles=("company_user",)))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM and "admin" in r.json()["detail"]
    assert await count(runtime, "refreshes") == await count(runtime, "documents") == 0
    ok = await client.post("/v1/index:refresh", headers=auth(settings, tenant=OTHER, roles=("platform-admin",)))
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"endpoint": "FETCH /v1/x"}, 422, "METHOD /path"),
        ({"endpoint": "v1/sessions"}, 422, "METHOD /path"),
        ({"endpoint": "GET /v1/nothing/here"}, 404, "no indexed endpoint"),
        ({"service": "no-such-service"}, 404, "not in the index"),
        ({"limit": 0}, 400, "limit"),
        ({"limit": 201}, 400, "limit"),
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"cursor": "WyJhIl0"}, 400, "cursor"),  # a valid cursor encoding of the wrong shape
        ({"format": "pdf"}, 422, "format"),
        ({"kind": "wiki"}, 422, "kind"),
        ({"capability": ""}, 422, "capability"),
    ],
)
async def test_bad_queries_say_what_is_wrong(client, settings, params, status, says):
    await refresh(client, settings)
    r = await docs(client, settings, **params)
    assert r.status_code == status and r.headers["content-type"] == PROBLEM
    assert says in r.json()["detail"]


async def test_unknown_versions_and_coverage_of_an_unknown_service_are_404(client, settings):
    await refresh(client, settings)
    ident = await doc_id(client, settings, KINTELL)
    assert (await client.get(f"/v1/docs/{ident}/versions/9", headers=auth(settings))).status_code == 404
    assert (await client.get(f"/v1/docs/{ident}/versions/x", headers=auth(settings))).status_code == 422
    r = await client.get("/v1/coverage", params={"service": "nope"}, headers=auth(settings))
    assert r.status_code == 404 and "nope" in r.json()["detail"]


async def test_metrics_show_index_time_and_coverage(client, settings):
    await refresh(client, settings)
    text = (await client.get("/metrics")).text
    assert "docs_hub_index_seconds_count 1.0" in text
    assert 'docs_hub_coverage_ratio{kind="endpoints",service="kintell-connector"}' in text
