"""Tenant isolation on every route, and loading Summit's own catalogue (admin route and command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.program_graph.service import service
from services.program_graph.tests.support import (
    OTHER,
    TENANT,
    auth,
    cap,
    ci_event,
    publish,
    put_nodes,
    reader,
    status_of,
    svc,
    wait_facts,
)
from summit_common.auth import mint_token
from tests.fixtures import api_client

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


async def _audit(runtime) -> list[tuple]:
    async with runtime.pool.acquire() as conn:
        return [tuple(r) for r in await conn.fetch("SELECT tenant_id, actor, resource, outcome FROM audit_log ORDER BY id")]


NODE_ROUTES = [
    ("GET", "/v1/program/nodes/cap:a"),
    ("GET", "/v1/program/nodes/cap:a/history"),
    ("GET", "/v1/program/status/cap:a"),
    ("GET", "/v1/program/critical-path?target=cap:a"),
    ("DELETE", "/v1/program/nodes/cap:a"),
]


@pytest.mark.parametrize(("method", "path"), NODE_ROUTES)
async def test_another_tenants_node_is_404_and_audited(client, runtime, settings, method, path):
    await put_nodes(client, settings, svc("a"), cap("a", "service:a"))
    headers = auth(settings, tenant=OTHER, sub="snoop", roles=("planner",))
    r = await client.request(method, path, headers=headers)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "program node cap:a does not exist"
    [(tenant, actor, resource, outcome)] = await _audit(runtime)
    assert (tenant, actor, resource, outcome) == (OTHER, "snoop", "program node cap:a", "denied_cross_tenant")
    assert (await client.get("/v1/program/nodes/cap:a", headers=reader(settings))).status_code == 200  # still there


async def test_a_node_missing_everywhere_is_404_without_audit(client, runtime, settings):
    assert (await client.get("/v1/program/status/cap:nope", headers=reader(settings))).status_code == 404
    assert await _audit(runtime) == []


async def test_lists_and_exports_show_only_the_callers_program(client, runtime, bus, settings):
    await put_nodes(client, settings, svc("a"), cap("a", "service:a"))
    await publish(bus, runtime, ci_event("a"))
    await wait_facts(runtime, 1)
    other = reader(settings, tenant=OTHER)
    assert (await client.get("/v1/program/nodes", headers=other)).json()["items"] == []
    assert (await client.get("/v1/program/versions", headers=other)).json() == {"program_version": 0, "items": [], "next_cursor": None}
    assert (await client.get("/v1/program/status", headers=other)).json()["items"] == []
    assert (await client.get("/v1/program/topology", headers=other)).json()["nodes"] == []
    assert (await client.get("/v1/program/critical-path", headers=other)).json()["critical_path"] == []
    assert (await client.get("/v1/program/facts", headers=other)).json()["items"] == []
    assert (await client.get("/v1/program/facts/a/log", headers=other)).json()["items"] == []
    dry = await client.post("/v1/program/dry-run", json={"targets": ["cap:a"]}, headers=other)
    assert dry.status_code == 422  # cap:a is not in globex's program
    # The same node id in two tenants is two nodes.
    await put_nodes(client, settings, cap("a", duration=9), tenant=OTHER)
    assert (await client.get("/v1/program/nodes/cap:a", headers=other)).json()["duration"] == 9
    assert (await client.get("/v1/program/nodes/cap:a", headers=reader(settings))).json()["duration"] == 1


ROUTES = [
    ("GET", "/v1/program/nodes"), ("POST", "/v1/program/nodes"), ("GET", "/v1/program/nodes/cap:a"),
    ("PUT", "/v1/program/nodes/cap:a"), ("DELETE", "/v1/program/nodes/cap:a"), ("GET", "/v1/program/nodes/cap:a/history"),
    ("POST", "/v1/program/import"), ("GET", "/v1/program/versions"), ("GET", "/v1/program/status"),
    ("GET", "/v1/program/status/cap:a"), ("POST", "/v1/program/dry-run"), ("GET", "/v1/program/critical-path"),
    ("GET", "/v1/program/topology"), ("GET", "/v1/program/facts"), ("GET", "/v1/program/facts/a/log"),
    ("GET", "/v1/program/rule-packs"), ("POST", "/v1/program/admin/load-summit"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", ["none", "wrong-key", "expired"])
async def test_every_route_needs_a_valid_token(client, runtime, settings, method, path, token):
    headers = {
        "none": {},
        "wrong-key": {"Authorization": "Bearer " + mint_token("another-key-entirely-0123456789-abcdef", sub="x", tenant=TENANT,
                                                              roles=["admin"])},
        "expired": {"Authorization": "Bearer " + mint_token(settings.jwt_secret, sub="x", tenant=TENANT, roles=["admin"], ttl_seconds=-5)},
    }[token]
    r = await client.request(method, path, headers=headers, json=cap("a") if method in ("POST", "PUT") else None)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM nodes") == 0


# --- Summit's own catalogue ---------------------------------------------------------------------------------


async def test_the_admin_route_loads_summits_catalogue_and_ci_results_drive_readiness(client, runtime, bus, settings):
    from summit_common.catalog import export_catalog

    services = sorted(s["name"] for s in export_catalog()["services"])  # whatever the catalogue holds right now
    forbidden = await client.post("/v1/program/admin/load-summit", headers=auth(settings, roles=("planner",)))
    assert forbidden.status_code == 403
    admin = auth(settings, tenant="platform", roles=("admin",), sub="root")
    r = await client.post("/v1/program/admin/load-summit", headers=admin)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["written"] is True and report["program_version"] == 1 and report["services"] == len(services)
    assert len(report["created"]) == 2 * len(services) + 1 and report["release"] == "release:summit"
    caps = (await client.get("/v1/program/nodes", params={"kind": "capability", "limit": 200}, headers=admin)).json()["items"]
    assert sorted(c["id"].removeprefix("capability:") for c in caps) == services
    assert {c["rule_pack"] for c in caps} == {"ci-only"} and {c["source"] for c in caps} == {"catalog"}

    again = (await client.post("/v1/program/admin/load-summit", headers=admin)).json()
    assert again["written"] is False and again["program_version"] == 1 and again["unchanged"] == 2 * len(services) + 1

    target = "program-graph"
    before = await status_of(client, settings, f"capability:{target}", tenant="platform")
    assert before["status"] == "not_ready"
    await publish(bus, runtime, ci_event(target, "pytest", tenant="platform"))
    await wait_facts(runtime, 1)
    after = await status_of(client, settings, f"capability:{target}", tenant="platform")
    assert not any(g["rule"] == "tests-green" for g in after["failing"])
    assert all(g["rule"] == "dependency" for g in after["failing"])  # only capabilities it needs remain
    release = await status_of(client, settings, "release:summit", tenant="platform")
    assert release["status"] == "not_ready"
    assert {c["node"] for c in release["root_causes"]} == {f"capability:{s}" for s in services if s != target}


def test_the_load_summit_command_writes_the_program_and_plans_without_writing(settings, tmp_path):
    catalog = {
        "events": [{"type": "t.a.done.v1", "producers": ["a"], "consumers": ["b"]}],
        "services": [{"name": "a", "version": "1.0.0", "consumes": [], "produces": ["t.a.done.v1"]},
                     {"name": "b", "version": "2.0.0", "consumes": ["t.a.done.v1"], "produces": []}],
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    env = {**os.environ, "DATABASE_URL": settings.database_url, "SUMMIT_SCHEMA_SUFFIX": settings.schema_suffix}

    def run(*args: str) -> dict:
        done = subprocess.run([sys.executable, "-m", "services.program_graph.load_summit", "--tenant", "platform",
                               "--catalog", str(path), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    plan = run("--plan")
    assert plan["written"] is False and plan["program_version"] == 0 and len(plan["created"]) == 5
    report = run()
    assert report["written"] is True and report["program_version"] == 1
    assert report["created"] == ["capability:a", "capability:b", "release:summit", "service:a", "service:b"]
    assert run()["written"] is False
    bad = subprocess.run([sys.executable, "-m", "services.program_graph.load_summit", "--catalog", str(tmp_path / "nope.json")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "FileNotFoundError" in bad.stderr


async def test_the_commands_program_is_what_the_service_serves(start_service, settings, monkeypatch):
    """The command writes to the same schema the service reads (same DATABASE_URL and suffix)."""
    from services.program_graph.load_summit import run

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SUMMIT_SCHEMA_SUFFIX", settings.schema_suffix)
    catalog = {"events": [], "services": [{"name": "solo", "version": "1.0.0", "consumes": [], "produces": []}]}
    report = await run("platform", plan_only=False, catalog=catalog)
    assert report["program_version"] == 1
    runtime = await start_service(service)
    async with api_client(runtime) as http:
        r = await http.get("/v1/program/critical-path", headers=auth(settings, tenant="platform"))
    assert r.json()["critical_path"] == ["service:solo", "capability:solo", "release:summit"]
    assert r.json()["program_version"] == 1
