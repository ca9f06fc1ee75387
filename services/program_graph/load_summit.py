"""Load Summit's own catalogue as a program (also `POST /v1/program/admin/load-summit`).

    .venv/bin/python -m services.program_graph.load_summit [--tenant platform] [--plan] [--catalog FILE]

Writes straight to this service's schema (DATABASE_URL, SUMMIT_SCHEMA_SUFFIX), applying its
migrations first, so it works before the service has ever run. One service node and one
capability per catalogue service, capability dependencies from the event flow, and the
release:summit milestone; see domain.summit_program. Capabilities use the `ci-only` rule
pack: a capability is ready when the latest result of every CI suite of its service passed,
as CI reports with

    summit publish governance.ci.result.reported.v1 --tenant platform --data '{"service": "unified-profile",
      "suite": "pytest", "status": "passed", "passed": 40, "failed": 0, "reported_at": "2025-03-01T10:00:00Z"}'

Re-running it syncs: new services are added, changed ones updated (keeping durations, owners
and rule parameters people set), removed ones deleted unless a node of yours still needs
them. No change, no new version. `--plan` prints what would change and writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg

from services.program_graph import domain, registry, store
from services.program_graph.config import ProgramGraphSettings

DEFAULT_TENANT = "platform"


def _report(tenant: str, version: int, plan: domain.SyncPlan, program: domain.CatalogProgram, catalog: Mapping[str, Any],
            *, written: bool) -> dict[str, Any]:
    counts = {op: sorted(c.node_id for c in plan.changes if c.op == op) for op in ("created", "updated", "deleted")}
    return {
        "tenant": tenant,
        "written": written,
        "program_version": version,
        "services": len(catalog.get("services") or []),
        "nodes": len(program.nodes),
        **counts,
        "unchanged": len(program.nodes) - len(counts["created"]) - len(counts["updated"]),
        "kept": list(plan.kept),
        "skipped_edges": list(program.skipped_edges),
        "release": domain.SUMMIT_RELEASE,
    }


async def sync_catalog(conn: asyncpg.Connection, *, tenant: str, actor: str, settings: ProgramGraphSettings,
                       catalog: Mapping[str, Any]) -> dict[str, Any]:
    """Sync the tenant's catalogue nodes with `catalog` in the caller's transaction (one version)."""
    program = domain.summit_program(catalog)
    planned: dict[str, domain.SyncPlan] = {}

    def mutate(graph: dict[str, domain.NodeSpec], revisions: Mapping[str, int]) -> dict[str, domain.NodeSpec]:
        planned["plan"] = domain.plan_sync(graph, program.nodes)
        return dict(planned["plan"].after)

    result = await registry.write(conn, tenant=tenant, actor=actor, settings=settings, mutate=mutate,
                                  summary=f"load-summit: {len(catalog.get('services') or [])} catalogue services")
    return _report(tenant, result.version, planned["plan"], program, catalog, written=bool(result.changes))


async def plan_catalog(conn: asyncpg.Connection, *, tenant: str, catalog: Mapping[str, Any]) -> dict[str, Any]:
    """What sync_catalog would change, without writing."""
    program = domain.summit_program(catalog)
    version = await store.program_version(conn, tenant=tenant)
    current = await store.load_graph(conn, tenant=tenant, version=version)
    plan = domain.plan_sync(current.nodes, program.nodes)
    return _report(tenant, version, plan, program, catalog, written=False)


def read_catalog(catalog_file: str | None) -> dict[str, Any]:
    if catalog_file:
        return json.loads(Path(catalog_file).read_text())
    from summit_common.catalog import export_catalog

    return export_catalog()


async def run(tenant: str, *, plan_only: bool, catalog: Mapping[str, Any]) -> dict[str, Any]:
    from services.program_graph.service import service
    from summit_common import db
    from summit_common.settings import Settings

    settings = Settings()
    schema = db.check_schema_name(service.schema + settings.schema_suffix)
    pool = await db.create_pool(settings.database_url, schema, max_size=2)
    try:
        async with pool.acquire() as conn:
            migrations = db.load_migrations(db.CHASSIS_MIGRATIONS, namespace="chassis")
            migrations += db.load_migrations(service.migrations, namespace=service.schema)
            await db.migrate(conn, schema, migrations)
            if plan_only:
                return await plan_catalog(conn, tenant=tenant, catalog=catalog)
            async with conn.transaction():
                return await sync_catalog(conn, tenant=tenant, actor="cli:load_summit", settings=ProgramGraphSettings(),
                                          catalog=catalog)
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.program_graph.load_summit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", default=DEFAULT_TENANT, help=f"the tenant whose program it becomes (default: {DEFAULT_TENANT})")
    parser.add_argument("--plan", action="store_true", help="print what would change; write nothing")
    parser.add_argument("--catalog", help="a `summit catalog export` JSON instead of this checkout's catalogue")
    args = parser.parse_args(argv)
    try:
        report = asyncio.run(run(args.tenant, plan_only=args.plan, catalog=read_catalog(args.catalog)))
    except Exception as exc:  # a command line tool: one clear line, exit code 1
        print(f"load_summit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
