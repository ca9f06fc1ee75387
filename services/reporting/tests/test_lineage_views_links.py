"""Why-this-metric over a real impact-calculator, saved views, share links."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from services.impact_calculator.service import service as impact_service
from services.reporting.tests.helpers import auth, evidence, publish
from services.reporting.tests.test_reports import seed
from summit_contracts import new_event
from tests.helpers import eventually

pytestmark = pytest.mark.integration


async def test_why_metric_goes_from_aggregate_to_evidence_previews(runtime, start_service, bus, client, settings):
    impact = await start_service(impact_service)
    runtime.app.state.impact_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=impact.app), base_url="http://impact")
    await publish(bus, runtime, evidence("ev-a", snippet="Reach me on +47 912 34 567, the course helped."))
    await publish(bus, runtime, new_event("q2q.outcome.scored.v1", {
        "score_id": "Q-1", "participant": {"system": "kintell", "id": "P-1"}, "dimension": "job_readiness", "value": 0.8,
        "confidence": 0.9, "evidence_ids": ["ev-a", "ev-missing"], "source_type": "kintell.session.completed.v1",
        "source_id": "S-1", "model_version": "m1", "scored_at": "2026-02-11T10:00:00+00:00"}, source="q2q-ai", tenantid="acme"))

    async def snapshot():  # impact-calculator emits impact.metrics.updated.v1; reporting keeps it
        items = (await client.get("/v1/metrics?period=2026-Q1", headers=auth(settings))).json()["items"]
        ev = (await client.get("/v1/evidence", headers=auth(settings))).json()["items"]
        return items[0] if items and ev else None
    metric = await eventually(snapshot, timeout=30)

    r = await client.get(f"/v1/metrics/{metric['metric_id']}/why", headers=auth(settings))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metric"]["metric_id"] == metric["metric_id"] and body["metric"]["period"] == "2026-Q1"
    assert body["metric"]["outcome_counts"] == {"q2q_job_readiness": 1}
    by_id = {e["evidence_id"]: e for e in body["evidence"]}
    assert by_id["ev-a"]["status"] == "received" and by_id["ev-a"]["preview"] == "Reach me on [phone], the course helped."
    assert by_id["ev-a"]["provenance"]["q2q_url"] == "/v1/evidence/ev-a"
    assert by_id["ev-missing"] == {"evidence_id": "ev-missing", "status": "not yet received", "preview": None}
    page = (await client.get(f"/v1/metrics/{metric['metric_id']}/why?limit=1", headers=auth(settings))).json()
    assert len(page["evidence"]) == 1 and page["next_cursor"]
    assert (await client.get(f"/v1/metrics/{metric['metric_id']}/why", headers=auth(settings) | {"If-None-Match": r.headers["etag"]})).status_code == 304
    # another tenant's metric: impact-calculator says 404 (for the forwarded token), so do we
    assert (await client.get(f"/v1/metrics/{metric['metric_id']}/why", headers=auth(settings, "globex"))).status_code == 404
    assert (await client.get(f"/v1/metrics/{metric['metric_id']}/why")).status_code == 401
    await runtime.app.state.impact_client.aclose()


async def test_why_metric_when_impact_calculator_is_down(runtime, client, settings):
    def down(request):
        raise httpx.ConnectError("refused")
    runtime.app.state.impact_client = httpx.AsyncClient(transport=httpx.MockTransport(down), base_url="http://impact")
    r = await client.get("/v1/metrics/0198a000-0000-7000-8000-000000000000/why", headers=auth(settings))
    assert r.status_code == 502 and r.headers["content-type"] == "application/problem+json"


async def test_saved_views_visibility_and_ownership(runtime, client, settings):
    alice, bob, other = auth(settings, sub="alice"), auth(settings, sub="bob"), auth(settings, "globex", sub="alice")
    mine = (await client.post("/v1/views", json={"name": "Q1 confidence", "filters": {"dimension": "confidence"}},
                              headers=alice)).json()
    shared = (await client.post("/v1/views", json={"name": "Team", "filters": {}, "visibility": "public"}, headers=alice)).json()
    bobs = (await client.post("/v1/views", json={"name": "Bob's", "visibility": "private"}, headers=bob)).json()
    assert mine["visibility"] == "private" and mine["owner"] == "alice"

    async def names(headers):
        r = await client.get("/v1/views", headers=headers)
        assert r.status_code == 200
        return sorted(v["name"] for v in r.json()["items"])
    assert await names(alice) == ["Q1 confidence", "Team"]
    assert await names(bob) == ["Bob's", "Team"]
    assert await names(other) == []
    assert (await client.get(f"/v1/views/{mine['view_id']}", headers=bob)).status_code == 404
    assert (await client.get(f"/v1/views/{shared['view_id']}", headers=bob)).status_code == 200
    assert (await client.patch(f"/v1/views/{shared['view_id']}", json={"name": "x"}, headers=bob)).status_code == 403
    assert (await client.delete(f"/v1/views/{shared['view_id']}", headers=bob)).status_code == 403
    r = await client.patch(f"/v1/views/{shared['view_id']}", json={"name": "Team view", "visibility": "private"}, headers=alice)
    assert r.status_code == 200 and r.json()["name"] == "Team view" and r.json()["filters"] == {}
    assert await names(bob) == ["Bob's"]
    for method in ("get", "delete"):
        assert (await client.request(method, f"/v1/views/{bobs['view_id']}", headers=other)).status_code == 404
    assert (await client.patch(f"/v1/views/{bobs['view_id']}", json={"name": "x"}, headers=other)).status_code == 404
    assert (await client.delete(f"/v1/views/{mine['view_id']}", headers=alice)).status_code == 204
    assert await names(alice) == ["Team view"]
    bad = await client.post("/v1/views", json={"name": "", "visibility": "everyone"}, headers=alice)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/views")).status_code == 401


async def test_share_links_expire_revoke_redact_and_log_access(runtime, bus, client, settings, clock):
    await seed(runtime, bus, client, settings, n=3)
    report = (await client.post("/v1/gen-reports:generate", json={"company_id": "acme", "period": "2026-Q1",
                                                                   "template": "quarterly"}, headers=auth(settings))).json()
    plain = (await client.post("/v1/share-links", json={"report_id": report["report_id"], "ttl_days": 7},
                               headers=auth(settings))).json()
    full = (await client.post("/v1/share-links", json={"report_id": report["report_id"], "ttl_days": 30,
                                                       "include_sensitive": True}, headers=auth(settings))).json()
    assert plain["url"].startswith("/v1/shared/") and "acme" not in plain["url"]

    r = await client.get(plain["url"])  # no JWT: the signed token is the credential
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sections"] == report["sections"] and body["shared"] is True and "created_by" not in body
    assert all(e["preview"] is None and e["redacted"] for e in body["evidence"])
    sensitive = (await client.get(full["url"])).json()
    assert all(e["preview"] for e in sensitive["evidence"])

    token = plain["url"].rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = await client.get(f"/v1/shared/{tampered}")
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    clock.now += timedelta(days=7, seconds=1)
    assert (await client.get(plain["url"])).status_code == 403
    assert (await client.get(full["url"])).status_code == 200
    assert (await client.delete(f"/v1/share-links/{full['link_id']}", headers=auth(settings, "globex"))).status_code == 404
    assert (await client.delete(f"/v1/share-links/{full['link_id']}", headers=auth(settings))).status_code == 204
    assert (await client.get(full["url"])).status_code == 410

    log = (await client.get(f"/v1/share-links/{plain['link_id']}/access", headers=auth(settings))).json()["items"]
    assert [e["outcome"] for e in log] == ["granted", "expired"]
    log = (await client.get(f"/v1/share-links/{full['link_id']}/access", headers=auth(settings))).json()["items"]
    assert [e["outcome"] for e in log] == ["granted", "granted", "revoked"]
    assert (await client.get(f"/v1/share-links/{full['link_id']}/access", headers=auth(settings, "globex"))).status_code == 404
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM share_link_access WHERE outcome = 'bad_signature'") == 1
        assert await conn.fetchval("SELECT count(*) FROM share_link_access WHERE client_hash LIKE '%.%'") == 0

    for body, status in (({"report_id": report["report_id"], "ttl_days": 91}, 422),
                         ({"report_id": report["report_id"], "ttl_days": 0}, 422),
                         ({"report_id": "0198a000-0000-7000-8000-000000000000", "ttl_days": 1}, 404)):
        assert (await client.post("/v1/share-links", json=body, headers=auth(settings))).status_code == status
    assert (await client.post("/v1/share-links", json={"report_id": report["report_id"], "ttl_days": 1},
                              headers=auth(settings, "globex"))).status_code == 404
