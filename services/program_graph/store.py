"""SQL for the program_graph schema only. Functions take a connection and never commit.

Tables: programs, program_versions, nodes (revisions), facts (latest), fact_log (see
migrations/0001_program_graph.sql). jsonb travels as JSON text (no jsonb codec on the pool).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.program_graph.domain import Change, NodeSpec
from services.program_graph.readiness import Fact

# --- programs and versions ------------------------------------------------------------------------------


async def lock_program(conn: asyncpg.Connection, *, tenant: str) -> int:
    """The tenant's program version, with its row locked until commit (writes serialise here)."""
    await conn.execute("INSERT INTO programs (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant)
    return await conn.fetchval("SELECT version FROM programs WHERE tenant_id = $1 FOR UPDATE", tenant)


async def program_version(conn: asyncpg.Connection, *, tenant: str) -> int:
    return await conn.fetchval("SELECT version FROM programs WHERE tenant_id = $1", tenant) or 0


@dataclass(frozen=True)
class StoredGraph:
    version: int
    nodes: dict[str, NodeSpec]
    revisions: dict[str, int]  # node -> the version its current revision started at


def _spec(row: asyncpg.Record) -> NodeSpec:
    return NodeSpec.model_validate({**json.loads(row["spec"]), "id": row["node_id"], "kind": row["kind"]})


async def load_graph(conn: asyncpg.Connection, *, tenant: str, version: int) -> StoredGraph:
    """The tenant's program as of `version` (the current version gives the current program)."""
    rows = await conn.fetch(
        "SELECT node_id, kind, spec, valid_from FROM nodes WHERE tenant_id = $1 AND valid_from <= $2"
        " AND (valid_to IS NULL OR valid_to > $2)",
        tenant, version,
    )
    return StoredGraph(version=version, nodes={r["node_id"]: _spec(r) for r in rows}, revisions={r["node_id"]: r["valid_from"] for r in rows})


async def write_version(
    conn: asyncpg.Connection, *, tenant: str, version: int, changed_by: str, summary: str, changes: Sequence[Change],
    after: Mapping[str, NodeSpec],
) -> None:
    """Record `version`: close the revisions of updated and deleted nodes, open new ones for
    created and updated nodes, log the change and move the program to `version`."""
    closing = [c.node_id for c in changes if c.op in ("updated", "deleted")]
    if closing:
        await conn.execute(
            "UPDATE nodes SET valid_to = $3 WHERE tenant_id = $1 AND node_id = ANY($2::text[]) AND valid_to IS NULL",
            tenant, closing, version,
        )
    opening = [after[c.node_id] for c in changes if c.op in ("created", "updated")]
    if opening:
        await conn.executemany(
            "INSERT INTO nodes (tenant_id, node_id, valid_from, kind, spec) VALUES ($1, $2, $3, $4, $5::jsonb)",
            [(tenant, n.id, version, n.kind, json.dumps({k: v for k, v in n.stored().items() if k not in ("id", "kind")}))
             for n in opening],
        )
    await conn.execute(
        "INSERT INTO program_versions (tenant_id, version, changed_by, summary, changes) VALUES ($1, $2, $3, $4, $5::jsonb)",
        tenant, version, changed_by, summary, json.dumps([c.as_dict() for c in changes]),
    )
    await conn.execute("UPDATE programs SET version = $2, updated_at = now() WHERE tenant_id = $1", tenant, version)


async def list_versions(conn: asyncpg.Connection, *, tenant: str, limit: int, before: int | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT version, changed_at, changed_by, summary, changes FROM program_versions WHERE tenant_id = $1"
        " AND ($2::bigint IS NULL OR version < $2) ORDER BY version DESC LIMIT $3",
        tenant, before, limit,
    )
    return [{"version": r["version"], "changed_at": r["changed_at"], "changed_by": r["changed_by"], "summary": r["summary"],
             "changes": json.loads(r["changes"])} for r in rows]


async def node_history(conn: asyncpg.Connection, *, tenant: str, node_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT node_id, kind, spec, valid_from, valid_to FROM nodes WHERE tenant_id = $1 AND node_id = $2 ORDER BY valid_from",
        tenant, node_id,
    )
    return [{"revision": r["valid_from"], "until": r["valid_to"], "node": _spec(r)} for r in rows]


async def other_tenant_with_node(conn: asyncpg.Connection, *, node_id: str, tenant: str) -> str | None:
    """Another tenant whose program holds this node id (to audit a cross-tenant probe)."""
    return await conn.fetchval(
        "SELECT tenant_id FROM nodes WHERE node_id = $1 AND tenant_id <> $2 AND valid_to IS NULL LIMIT 1", node_id, tenant)


# --- facts --------------------------------------------------------------------------------------------------

# Deferred by the handler (batched at commit). The latest fact wins by its own time, then event id.
UPSERT_FACT = (
    "INSERT INTO facts (tenant_id, fact_type, subject, fact_key, value, observed_at, event_type, event_id)"
    " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)"
    " ON CONFLICT (tenant_id, fact_type, subject, fact_key) DO UPDATE SET value = EXCLUDED.value,"
    " observed_at = EXCLUDED.observed_at, arrived_at = now(), event_type = EXCLUDED.event_type, event_id = EXCLUDED.event_id"
    " WHERE (facts.observed_at, facts.event_id) < (EXCLUDED.observed_at, EXCLUDED.event_id)"
)
LOG_FACT = (
    "INSERT INTO fact_log (tenant_id, fact_type, subject, fact_key, value, observed_at, event_type, event_source, event_id)"
    " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9)"
)


def fact_args(tenant: str, fact: Fact) -> tuple:
    return (tenant, fact.type, fact.subject, fact.key, json.dumps(dict(fact.value), default=str), fact.observed_at,
            fact.event_type, fact.event_id)


def _fact(row: asyncpg.Record) -> Fact:
    return Fact(type=row["fact_type"], subject=row["subject"], key=row["fact_key"], value=json.loads(row["value"]),
                observed_at=row["observed_at"], arrived_at=row["arrived_at"], event_type=row["event_type"], event_id=row["event_id"])


_FACT_COLUMNS = "fact_type, subject, fact_key, value, observed_at, arrived_at, event_type, event_id"


async def load_facts(conn: asyncpg.Connection, *, tenant: str) -> list[Fact]:
    rows = await conn.fetch(f"SELECT {_FACT_COLUMNS} FROM facts WHERE tenant_id = $1", tenant)
    return [_fact(r) for r in rows]


async def list_facts(conn: asyncpg.Connection, *, tenant: str, limit: int, after: Sequence[str] | None,
                     fact_type: str | None, subject: str | None) -> list[Fact]:
    """One page of the tenant's latest facts in (type, subject, key) order."""
    rows = await conn.fetch(
        f"SELECT {_FACT_COLUMNS} FROM facts WHERE tenant_id = $1"
        " AND ($2::text IS NULL OR fact_type = $2) AND ($3::text IS NULL OR subject = $3)"
        " AND ($4::text[] IS NULL OR (fact_type, subject, fact_key) > ($4[1], $4[2], $4[3]))"
        " ORDER BY fact_type, subject, fact_key LIMIT $5",
        tenant, fact_type, subject, list(after) if after else None, limit,
    )
    return [_fact(r) for r in rows]


async def fact_history(conn: asyncpg.Connection, *, tenant: str, subject: str, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT fact_type, subject, fact_key, value, observed_at, arrived_at, event_type, event_source, event_id FROM fact_log"
        " WHERE tenant_id = $1 AND subject = $2 ORDER BY seq DESC LIMIT $3", tenant, subject, limit)
    return [{**{k: r[k] for k in ("fact_type", "subject", "fact_key", "observed_at", "arrived_at", "event_type", "event_source",
                                   "event_id")}, "value": json.loads(r["value"])} for r in rows]

