"""Helpers for program-graph integration tests: tokens, nodes, publishing governance signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.program_graph import readiness
from summit_common.auth import mint_token
from summit_common.runtime import ServiceRuntime
from summit_contracts import CloudEvent, new_event
from tests.helpers import eventually

TENANT = "acme"
OTHER = "globex"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def auth(settings, *, tenant: str = TENANT, roles: tuple[str, ...] = ("planner",), sub: str = "pm-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=roles)}"}


def reader(settings, *, tenant: str = TENANT) -> dict[str, str]:
    return auth(settings, tenant=tenant, roles=(), sub="viewer")


async def put_nodes(client, settings, *nodes: dict[str, Any], tenant: str = TENANT) -> int:
    """Create nodes one by one (one version each); returns the last program version."""
    version = 0
    for body in nodes:
        r = await client.post("/v1/program/nodes", json=body, headers=auth(settings, tenant=tenant))
        assert r.status_code == 201, r.text
        version = r.json()["program_version"]
    return version


def svc(name: str) -> dict[str, Any]:
    return {"id": f"service:{name}", "kind": "service", "service": name}


def cap(name: str, *deps: str, **fields: Any) -> dict[str, Any]:
    return {"id": f"cap:{name}", "kind": "capability", "depends_on": list(deps), **fields}


async def publish(js, runtime: ServiceRuntime, event: CloudEvent, *, msg_id: str | None = None) -> CloudEvent:
    await js.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": msg_id or event.msg_id})
    return event


def ci_event(service: str, suite: str = "unit", status: str = "passed", *, minutes: int = 0, tenant: str = TENANT,
             **overrides: Any) -> CloudEvent:
    data = {"service": service, "suite": suite, "status": status, "passed": 12, "failed": 0 if status == "passed" else 1,
            "commit": "abc123", "reported_at": (T0 + timedelta(minutes=minutes)).isoformat(), **overrides}
    return new_event(readiness.CI, data, source="test-ci", tenantid=tenant)


def deploy_event(service: str, version: str = "1.4.0", *, tenant: str = TENANT) -> CloudEvent:
    data = {"service": service, "version": version, "environment": "production", "deployed_at": T0.isoformat()}
    return new_event(readiness.DEPLOY, data, source="test-ci", tenantid=tenant)


def slo_event(service: str, met: bool = True, *, tenant: str = TENANT) -> CloudEvent:
    data = {"service": service, "slo": "availability", "met": met, "window": "30d", "reported_at": T0.isoformat()}
    return new_event(readiness.SLO, data, source="test-ci", tenantid=tenant)


def docs_event(service: str, endpoint: float = 0.9, event: float = 0.9, *, tenant: str = TENANT) -> CloudEvent:
    data = {"service": service, "endpoint_coverage": endpoint, "event_coverage": event, "reported_at": T0.isoformat()}
    return new_event(readiness.DOCS, data, source="test-docs", tenantid=tenant)


def green(service: str, *, tenant: str = TENANT) -> list[CloudEvent]:
    return [ci_event(service, tenant=tenant), deploy_event(service, tenant=tenant), slo_event(service, tenant=tenant),
            docs_event(service, tenant=tenant)]


async def facts_count(runtime: ServiceRuntime, table: str = "facts") -> int:
    async with runtime.pool.acquire() as conn:
        return await conn.fetchval(f"SELECT count(*) FROM {table}")


async def wait_facts(runtime: ServiceRuntime, n: int, table: str = "fact_log") -> None:
    async def enough():
        return await facts_count(runtime, table) >= n

    await eventually(enough, timeout=30)


async def status_of(client, settings, node_id: str, *, tenant: str = TENANT) -> dict:
    r = await client.get(f"/v1/program/status/{node_id}", headers=reader(settings, tenant=tenant))
    assert r.status_code == 200, r.text
    return r.json()
