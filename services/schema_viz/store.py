"""SQL for schema-viz's own schema: the export log. Functions take a connection and never commit."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


async def record_export(conn: asyncpg.Connection | asyncpg.Pool, *, tenant: str, actor: str, kind: str, format: str,
                        selector: dict[str, Any], sha256: str, nodes: int, edges: int) -> None:
    """Append one export to the log."""
    await conn.execute(
        "INSERT INTO exports (tenant_id, actor, kind, format, selector, sha256, nodes, edges)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)",
        tenant, actor, kind, format, json.dumps(selector, sort_keys=True), sha256, nodes, edges,
    )


async def list_exports(conn: asyncpg.Connection | asyncpg.Pool, *, tenant: str, limit: int, before: int | None) -> list[dict]:
    """The tenant's exports, newest first, keyset-paginated on id."""
    rows = await conn.fetch(
        "SELECT id, actor, kind, format, selector, sha256, nodes, edges, exported_at FROM exports"
        " WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        tenant, before, limit,
    )
    return [dict(r) | {"selector": json.loads(r["selector"]), "exported_at": r["exported_at"].isoformat()} for r in rows]
