"""HTTP over real NATS + Postgres: assess, store, signal, query; bad input; tenant isolation."""

from __future__ import annotations

import json

import pytest

from services.blast_radius.service import service
from services.blast_radius.tests.catalogs import removal
from services.blast_radius.tests.support import OTHER, TENANT, auth, count, outbox_flushed, signals
from summit_common.auth import mint_token
from tests.fixtures import api_client

pytestmark = pytest.mark.integration


async def test_an_assessment_is_stored_signalled_and_readable(client, runtime, bus, settings):
    r = await client.post("/v1/impact/assess", json={**removal(), "label": "PR 7"}, headers=auth(settings))
    assert r.status_code == 201, r.text
    body = r.json()
    assessment_id = body["assessment_id"]
    assert r.headers["location"] == f"/v1/impact/{assessment_id}"
    assert body["report"]["affected"] == ["service:alpha", "service:beta", "service:gamma"]
    assert body["ready"] is False
    reasons = ["risk 0.6573 is not below the threshold 0.5", "breaking change #0 to demo.item.created.v1 has no proposal_id"]
    assert body["readiness"]["reasons"] == reasons
    assert body["digest"].startswith("sha256:")

    stored = await client.get(f"/v1/impact/{assessment_id}", headers=auth(settings, roles=()))
    assert stored.status_code == 200
    assert stored.json()["report"] == body["report"] and stored.json()["digest"] == body["digest"]
    assert stored.json()["bundle"]["label"] == "PR 7" and stored.json()["signals"] == 1

    [signal] = await signals(bus, runtime, at_least=1)
    assert signal["subject"] == assessment_id and signal["tenantid"] == TENANT and signal["source"] == "blast-radius"
    assert signal["data"] == {
        "assessment_id": assessment_id, "change_kind": "schema_diff", "risk_score": body["risk_score"], "ready": False,
        "affected": ["service:alpha", "service:beta", "service:gamma"], "reasons": reasons,
    }


async def test_a_low_risk_compatible_change_is_ready(client, runtime, bus, settings):
    change = {"kind": "schema_diff", "contract": "demo.item.created.v1", "changes": [{"path": "note", "change": "optional_added"}]}
    r = await client.post("/v1/impact/assess", json=change, headers=auth(settings))
    assert r.status_code == 201 and r.json()["ready"] is True
    assert r.json()["readiness"]["reasons"] == [f"risk {r.json()['risk_score']} is below the threshold 0.5", "no breaking change"]
    [signal] = await signals(bus, runtime, at_least=1)
    assert signal["data"]["ready"] is True and signal["data"]["affected"] == []


async def test_the_threshold_is_configurable(start_service, settings, monkeypatch, tmp_path):
    from services.blast_radius.tests.catalogs import demo_catalog

    path = tmp_path / "c.json"
    path.write_text(json.dumps(demo_catalog()))
    monkeypatch.setenv("BLAST_RADIUS_CATALOG_FILE", str(path))
    monkeypatch.setenv("BLAST_RADIUS_RISK_THRESHOLD", "0.01")
    runtime = await start_service(service)
    async with api_client(runtime) as http:
        change = {"kind": "schema_diff", "contract": "demo.item.created.v1", "changes": [{"path": "note", "change": "added"}]}
        r = await http.post("/v1/impact/assess", json=change, headers=auth(settings))
    assert r.json()["ready"] is False and r.json()["readiness"]["threshold"] == 0.01


async def test_a_dry_run_answers_the_same_and_stores_nothing(client, runtime, settings):
    real = await client.post("/v1/impact/assess", json=removal(), headers=auth(settings))
    await outbox_flushed(runtime)
    dry = await client.post("/v1/impact/assess", params={"dry_run": "true"}, json=removal(), headers=auth(settings, roles=()))
    assert dry.status_code == 200
    assert dry.json()["dry_run"] is True and dry.json()["assessment_id"] is None
    assert dry.json()["digest"] == real.json()["digest"] and dry.json()["readiness"] == real.json()["readiness"]
    assert await count(runtime, "assessments") == 1
    assert await count(runtime, "outbox") == 1


@pytest.mark.parametrize(("bundle", "status", "detail"), [
    (removal(contract="demo.nope.v1"), 422, "changes.0.contract: unknown contract 'demo.nope.v1'"),
    ({"kind": "model_swap"}, 422, "changes.0.kind: unknown change kind 'model_swap'; known kinds: policy_change, schema_diff, service_version"),
    ({"kind": "service_version", "service": "alpha", "from": "1", "to": "2.0.0"}, 422, "changes.0.from: '1' is not a semantic version"),
    ({"changes": []}, 422, "changes: List should have at least 1 item"),
    ({"changes": [removal()], "surprise": True}, 422, "surprise: Extra inputs are not permitted"),
])
async def test_bad_bundles_are_422_naming_the_problem_and_store_nothing(client, runtime, settings, bundle, status, detail):
    r = await client.post("/v1/impact/assess", json=bundle, headers=auth(settings))
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"].startswith(detail), r.json()["detail"]
    assert r.json()["errors"][0]["loc"]
    assert await count(runtime, "assessments") == 0
    assert await count(runtime, "outbox") == 0


async def test_metrics_count_assessments_rejections_and_unknown_change_kinds(client, settings):
    await client.post("/v1/impact/assess", json=removal(), headers=auth(settings))
    await client.post("/v1/impact/assess", json=removal(contract="nope.v1"), headers=auth(settings))
    odd = {"kind": "schema_diff", "contract": "demo.item.created.v1", "changes": [{"path": "item_id", "change": "vibes"}]}
    await client.post("/v1/impact/assess", json=odd, headers=auth(settings))
    text = (await client.get("/metrics")).text
    assert 'blast_radius_assessments_total{change_kind="schema_diff",ready="false"} 2.0' in text
    assert "blast_radius_bundles_rejected_total 1.0" in text
    assert "blast_radius_unknown_change_kinds_total 1.0" in text


async def test_a_body_that_is_not_an_object_is_422(client, runtime, settings):
    r = await client.post("/v1/impact/assess", content=b"[1, 2]", headers={**auth(settings), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = await client.post("/v1/impact/assess", content=b"{not json", headers={**auth(settings), "Content-Type": "application/json"})
    assert r.status_code == 422
    assert await count(runtime, "assessments") == 0


async def test_assessing_for_real_needs_a_gate_role(client, runtime, settings):
    r = await client.post("/v1/impact/assess", json=removal(), headers=auth(settings, roles=("company_user",)))
    assert r.status_code == 403
    assert "ci, governance, operator, admin" in r.json()["detail"]
    assert await count(runtime, "assessments") == 0


async def test_an_unreadable_catalogue_is_503_and_stores_nothing(start_service, settings, monkeypatch, tmp_path):
    monkeypatch.setenv("BLAST_RADIUS_CATALOG_FILE", str(tmp_path / "missing.json"))
    runtime = await start_service(service)
    async with api_client(runtime) as http:
        r = await http.post("/v1/impact/assess", json=removal(), headers=auth(settings))
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert "could not be loaded: FileNotFoundError" in r.json()["detail"]
    assert await count(runtime, "assessments") == 0


async def test_the_list_pages_newest_first_and_filters(client, settings):
    ids = []
    for bundle in (removal(), {"kind": "service_version", "service": "alpha", "from": "1.2.0", "to": "1.2.1"},
                   {"kind": "policy_change", "service": "gateway", "policy": "deny", "events": ["demo.access.denied.v1"]}):
        r = await client.post("/v1/impact/assess", json=bundle, headers=auth(settings))
        assert r.status_code == 201, r.text
        ids.append(r.json()["assessment_id"])
    first = (await client.get("/v1/impact", params={"limit": 2}, headers=auth(settings))).json()
    assert [i["assessment_id"] for i in first["items"]] == [ids[2], ids[1]]
    second = (await client.get("/v1/impact", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth(settings))).json()
    assert [i["assessment_id"] for i in second["items"]] == [ids[0]] and second["next_cursor"] is None

    async def listed(**params) -> list[str]:
        r = await client.get("/v1/impact", params=params, headers=auth(settings))
        assert r.status_code == 200, r.text
        return [i["assessment_id"] for i in r.json()["items"]]

    assert await listed(ready="true") == [ids[1]]
    assert await listed(kind="policy_change") == [ids[2]]
    assert await listed(affects="service:audit") == [ids[2]]
    assert await listed(affects="service:gamma") == [ids[0]]
    bad = await client.get("/v1/impact", params={"cursor": "garbage"}, headers=auth(settings))
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/impact", params={"kind": "nope"}, headers=auth(settings))).status_code == 400
    assert (await client.get("/v1/impact", params={"limit": 0}, headers=auth(settings))).status_code == 400


async def test_stats_count_and_rank_the_affected_nodes(client, settings):
    for bundle in (removal(), removal(path="tags"), {"kind": "schema_diff", "contract": "demo.alpha.scored.v1",
                                                    "changes": [{"path": "id", "change": "removed"}]}):
        assert (await client.post("/v1/impact/assess", json=bundle, headers=auth(settings))).status_code == 201
    stats = (await client.get("/v1/impact/stats", headers=auth(settings))).json()
    assert stats["assessments"] == 3 and stats["ready"] + stats["not_ready"] == 3
    assert stats["by_kind"] == {"schema_diff": 3}
    assert stats["top_affected"][0] == {"node": "service:gamma", "assessments": 3}
    assert {"node": "service:alpha", "assessments": 2} in stats["top_affected"]


async def test_the_text_format_explains_each_affected_node(client, settings):
    created = (await client.post("/v1/impact/assess", json=removal(), headers=auth(settings))).json()
    r = await client.get(f"/v1/impact/{created['assessment_id']}", params={"format": "text"}, headers=auth(settings))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert ("service:gamma [degraded]: event:demo.item.created.v1 -> service:alpha -> event:demo.alpha.scored.v1 -> service:gamma"
            in r.text)
    assert "ready: no (threshold 0.5)" in r.text


async def test_the_analyzers_route_lists_every_kind_with_its_schema(client, settings):
    r = await client.get("/v1/impact/analyzers", headers=auth(settings, roles=()))
    assert [a["kind"] for a in r.json()["items"]] == ["policy_change", "schema_diff", "service_version"]
    assert "from" in next(a for a in r.json()["items"] if a["kind"] == "service_version")["schema"]["properties"]


# --- tenant isolation -------------------------------------------------------------------------------


async def _audit(runtime) -> list:
    async with runtime.pool.acquire() as conn:
        return [tuple(r) for r in await conn.fetch("SELECT tenant_id, actor, resource, outcome FROM audit_log ORDER BY id")]


async def test_another_tenants_assessment_is_404_and_audited(client, runtime, settings):
    created = (await client.post("/v1/impact/assess", json=removal(), headers=auth(settings))).json()
    r = await client.get(f"/v1/impact/{created['assessment_id']}", headers=auth(settings, tenant=OTHER, sub="snoop"))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert await _audit(runtime) == [(OTHER, "snoop", f"assessment {created['assessment_id']}", "denied_cross_tenant")]
    text = await client.get(f"/v1/impact/{created['assessment_id']}", params={"format": "text"}, headers=auth(settings, tenant=OTHER))
    assert text.status_code == 404
    assert (await client.get("/v1/impact", headers=auth(settings, tenant=OTHER))).json() == {"items": [], "next_cursor": None}
    assert (await client.get("/v1/impact/stats", headers=auth(settings, tenant=OTHER))).json()["assessments"] == 0
    admin = await client.get(f"/v1/impact/{created['assessment_id']}", headers=auth(settings, tenant=OTHER, roles=("platform-admin",)))
    assert admin.status_code == 200


async def test_a_missing_or_malformed_id_is_404_without_audit(client, runtime, settings):
    assert (await client.get("/v1/impact/0190a0c2-0000-7000-8000-000000000000", headers=auth(settings))).status_code == 404
    assert (await client.get("/v1/impact/not-a-uuid", headers=auth(settings))).status_code == 404
    assert await _audit(runtime) == []


ROUTES = [
    ("GET", "/v1/impact"),
    ("GET", "/v1/impact/stats"),
    ("GET", "/v1/impact/analyzers"),
    ("GET", "/v1/impact/0190a0c2-0000-7000-8000-000000000000"),
    ("POST", "/v1/impact/assess"),
    ("POST", "/v1/impact/assess?dry_run=true"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", ["none", "wrong-key", "expired", "not-bearer"])
async def test_every_route_needs_a_valid_token(client, runtime, settings, method, path, token):
    headers = {
        "none": {},
        "wrong-key": {"Authorization": "Bearer " + mint_token("another-key-entirely-0123456789-abcdef", sub="x", tenant=TENANT, roles=["ci"])},
        "expired": {"Authorization": "Bearer " + mint_token(settings.jwt_secret, sub="x", tenant=TENANT, roles=["ci"], ttl_seconds=-60)},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[token]
    r = await client.request(method, path, headers=headers, json=removal() if method == "POST" else None)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(runtime, "assessments") == 0


# --- Summit's own catalogue ----------------------------------------------------------------------------


async def test_against_summits_live_catalogue(start_service, settings, monkeypatch):
    """No catalogue file: the service reads the catalogue of this deployment; compared with
    what export_catalog() returns right now (other services come and go)."""
    from summit_common.catalog import export_catalog

    monkeypatch.delenv("BLAST_RADIUS_CATALOG_FILE", raising=False)
    export = export_catalog()
    consumed = {e["type"]: e["consumers"] for e in export["events"] if e["consumers"]}
    contract = sorted(consumed)[0]
    runtime = await start_service(service)
    async with api_client(runtime) as http:
        r = await http.post("/v1/impact/assess", json=removal(contract=contract, path=""), headers=auth(settings))
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    assert report["catalog"]["events"] == len(export["events"]) and report["catalog"]["services"] == len(export["services"])
    direct = {n["name"] for n in report["nodes"] if n["severity"] == "breaking"}
    assert direct == set(consumed[contract])
