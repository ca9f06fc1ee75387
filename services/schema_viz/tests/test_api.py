"""HTTP routes over real NATS and Postgres: exports, knowledge maps, coverage, bad input, auth.

schema-viz consumes no events (nothing to redeliver or dead-letter) and keeps no tenant data:
the platform's structure is the same for every tenant, so the tenancy tests assert that two
tenants get identical answers and that no token / a bad token is a 401.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from services.schema_viz import domain
from services.schema_viz.maps import SOURCE_DIR_ENV
from services.schema_viz.service import service
from services.schema_viz.tests.support import FIXTURE, SNAPSHOTS
from summit_common.auth import mint_token
from summit_common.catalog import export_catalog
from tests.fixtures import api_client

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


def auth(settings, tenant: str = "acme", roles: tuple[str, ...] = ("company_user",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub='u1', tenant=tenant, roles=roles)}"}


def snapshot(name: str) -> str:
    return (SNAPSHOTS / name).read_text()


async def export(client, settings, body: dict, **headers):
    return await client.post("/v1/export/diagram", json=body, headers={**auth(settings), **headers})


# --- happy paths -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind, fmt, ext", [("erd", "mermaid", "mmd"), ("services", "plantuml", "puml"),
                                            ("events", "dot", "dot")])
async def test_export_returns_the_diagram_as_json(client, settings, kind, fmt, ext):
    r = await export(client, settings, {"source": {"kind": kind}, "format": fmt})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == snapshot(f"{kind}.{ext}")
    assert body["kind"] == kind and body["format"] == fmt
    assert body["content_type"].startswith({"mermaid": "text/vnd.mermaid", "plantuml": "text/vnd.plantuml",
                                            "dot": "text/vnd.graphviz"}[fmt])
    assert body["sha256"] == hashlib.sha256(body["text"].encode()).hexdigest()
    assert r.headers["etag"] == f'"{body["sha256"]}"' and body["nodes"] > 0


async def test_export_returns_raw_text_when_the_media_type_is_accepted(client, settings):
    body = {"source": {"kind": "events", "focus": "service:orders", "hops": 2}, "format": "dot"}
    r = await export(client, settings, body, Accept="text/vnd.graphviz")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/vnd.graphviz; charset=utf-8"
    assert r.text == snapshot("events_orders_2hops.dot")
    plain = await export(client, settings, {"source": {"kind": "erd", "services": ["orders"], "chassis": False},
                                            "format": "mermaid"}, Accept="text/plain")
    assert plain.headers["content-type"].startswith("text/vnd.mermaid") and plain.text == snapshot(
        "erd_orders_no_chassis.mmd")


async def test_the_same_request_twice_is_byte_identical(client, settings):
    body = {"source": {"kind": "events", "domains": ["shop"]}, "format": "plantuml"}
    first = await export(client, settings, body, Accept="text/plain")
    second = await export(client, settings, body, Accept="text/plain")
    assert first.content == second.content and first.text == snapshot("events_domain_shop.puml")


async def test_knowledge_map_is_the_canonical_graph(client, settings):
    r = await client.get("/v1/maps/knowledge", headers=auth(settings))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.content == domain.json_bytes(json.loads(snapshot("knowledge.json")))
    graph = r.json()
    assert {n["kind"] for n in graph["nodes"]} == {"service", "event", "table", "endpoint", "external"}
    assert {e["kind"] for e in graph["edges"]} == {"produces", "consumes", "owns", "calls", "references"}
    assert [n["id"] for n in graph["nodes"]] == sorted(n["id"] for n in graph["nodes"])


async def test_knowledge_map_views(client, settings):
    r = await client.get("/v1/maps/knowledge", params={"focus": "event:shop.order.placed.v1", "hops": 1},
                         headers=auth(settings))
    assert r.status_code == 200, r.text
    assert {n["id"] for n in r.json()["nodes"]} == {"event:shop.order.placed.v1", "service:orders",
                                                    "service:billing", "service:notifier"}
    r = await client.get("/v1/maps/knowledge", params=[("kinds", "service"), ("kinds", "event"),
                                                       ("services", "billing")], headers=auth(settings))
    assert {n["id"] for n in r.json()["nodes"]} == {"service:billing", "event:billing.invoice.paid.v1",
                                                    "event:shop.order.placed.v1"}
    r = await client.get("/v1/maps/knowledge", params={"kinds": "table", "chassis": "false"}, headers=auth(settings))
    assert all(n["attrs"]["origin"] == "service" for n in r.json()["nodes"]) and r.json()["nodes"]


async def test_coverage_report(client, settings):
    r = await client.get("/v1/coverage", headers=auth(settings))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["complete"] is True and report["services"]["registered"] == 4
    assert report["unregistered_services"] == ["auditor"]
    assert {s["adapter"] for s in report["sources"]} >= {"catalogue", "migrations", "route-table"}


async def test_live_platform_every_registered_service_and_event_is_covered(live_client, settings):
    doc = export_catalog()  # counted now: other services are being added
    r = await live_client.get("/v1/coverage", headers=auth(settings))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["complete"] is True, report
    assert report["services"]["registered"] == len(doc["services"])
    assert report["events"]["registered"] == len(doc["events"])
    graph = (await live_client.get("/v1/maps/knowledge", headers=auth(settings))).json()
    node_ids = {n["id"] for n in graph["nodes"]}
    assert {f"service:{s['name']}" for s in doc["services"]} <= node_ids
    assert {f"event:{e['type']}" for e in doc["events"]} <= node_ids
    r = await export(live_client, settings, {"source": {"kind": "erd", "services": ["schema-viz"]}, "format": "mermaid"})
    assert "tbl_schema_viz_outbox" in r.json()["text"]  # schema-viz has the chassis tables only


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("body, detail", [
    ({"source": {"kind": "map"}, "format": "mermaid"}, "source.kind"),
    ({"source": {"kind": "erd"}, "format": "svg"}, "format"),
    ({"source": {"kind": "erd"}}, "format: Field required"),
    ({"source": {"kind": "erd", "colour": "red"}, "format": "dot"}, "source.colour: Extra inputs are not permitted"),
    ({"source": {"kind": "erd", "hops": 21, "focus": "table:orders.orders"}, "format": "dot"}, "source.hops"),
    ({"source": {"kind": "erd", "services": []}, "format": "dot"}, "source.services"),
    ({"source": {"kind": "erd", "services": ["Not A Name"]}, "format": "dot"}, "source.services.0"),
    ({"source": {"kind": "erd", "services": ["ordrs"]}, "format": "dot"}, "unknown services ordrs (did you mean orders?)"),
    ({"source": {"kind": "erd", "domains": ["shop"]}, "format": "dot"}, "domains select events"),
    ({"source": {"kind": "events", "hops": 2}, "format": "dot"}, "hops needs a focus node id"),
    ({"source": {"kind": "events", "focus": "table:orders.orders"}, "format": "dot"}, "is not in this events view"),
    ({"source": {"kind": "events", "focus": "service:nobody"}, "format": "dot"}, "is not in the graph"),
])
async def test_bad_export_requests_are_422_problems_that_say_what_is_wrong(client, settings, runtime, body, detail):
    r = await export(client, settings, body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert detail in r.json()["detail"] or detail in json.dumps(r.json().get("errors", []))
    async with runtime.pool.acquire() as conn:  # nothing stored, nothing emitted
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_malformed_json_is_a_422(client, settings):
    r = await client.post("/v1/export/diagram", content=b"{not json", headers={**auth(settings),
                                                                               "content-type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("params, detail", [
    ({"kinds": "tables"}, "kinds"),
    ({"hops": 3}, "hops needs a focus node id"),
    ({"hops": -1, "focus": "service:orders"}, "hops"),
    ({"services": "ghost"}, "unknown services ghost"),
    ({"domains": "nope"}, "unknown domains nope"),
])
async def test_bad_knowledge_queries_are_422(client, settings, params, detail):
    r = await client.get("/v1/maps/knowledge", params=params, headers=auth(settings))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert detail in r.json()["detail"]


async def test_unreadable_sources_are_a_500_problem_naming_the_file(start_service, monkeypatch, settings, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(FIXTURE, source)
    (source / "migrations" / "notifier").mkdir()
    (source / "migrations" / "notifier" / "0001_view.sql").write_text("CREATE VIEW v AS SELECT 1;\n")
    monkeypatch.setenv(SOURCE_DIR_ENV, str(source))
    runtime = await start_service(service)
    async with api_client(runtime) as client:
        for _ in range(2):  # the failure is kept, not rebuilt per request
            r = await client.get("/v1/maps/knowledge", headers=auth(settings))
            assert r.status_code == 500 and r.headers["content-type"] == PROBLEM
            assert "service notifier: 0001_view.sql:1: unsupported statement CREATE VIEW" in r.json()["detail"]
        assert (await client.get("/healthz")).status_code == 200


# --- auth and tenancy ------------------------------------------------------------------------

ROUTES = [("POST", "/v1/export/diagram", {"source": {"kind": "erd"}, "format": "mermaid"}),
          ("GET", "/v1/maps/knowledge", None), ("GET", "/v1/coverage", None), ("GET", "/v1/exports", None)]


@pytest.mark.parametrize("method, path, body", ROUTES)
async def test_no_token_or_a_bad_token_is_401(client, settings, method, path, body):
    expired = mint_token(settings.jwt_secret, sub="u1", tenant="acme", ttl_seconds=-60)
    forged = mint_token("another-secret-of-at-least-32-bytes-000000", sub="u1", tenant="acme")
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": f"Bearer {expired}"},
                    {"Authorization": f"Bearer {forged}"}, {"Authorization": "Basic dTpw"}):
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("method, path, body", ROUTES)
async def test_every_tenant_sees_the_same_platform_structure(client, settings, method, path, body):
    a = await client.request(method, path, json=body, headers=auth(settings, tenant="acme"))
    b = await client.request(method, path, json=body, headers=auth(settings, tenant="globex", roles=("participant",)))
    assert a.status_code == b.status_code == 200
    assert a.content == b.content


async def test_exports_are_logged_per_tenant_with_their_hash(client, settings):
    made = (await export(client, settings, {"source": {"kind": "events"}, "format": "dot"})).json()
    second = await export(client, settings, {"source": {"kind": "services"}, "format": "mermaid"})
    assert second.status_code == 200
    mine = (await client.get("/v1/exports", params={"limit": 1}, headers=auth(settings))).json()
    assert len(mine["items"]) == 1 and mine["next_cursor"]
    older = (await client.get("/v1/exports", params={"cursor": mine["next_cursor"]}, headers=auth(settings))).json()
    assert [(e["kind"], e["format"], e["sha256"], e["actor"]) for e in older["items"]] == [("events", "dot", made["sha256"], "u1")]
    other = (await client.get("/v1/exports", headers=auth(settings, tenant="globex"))).json()
    assert other["items"] == []
    bad = await client.get("/v1/exports", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auth(settings))
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
