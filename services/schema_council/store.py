"""SQL for the schema_council schema only (proposals, proposal_comments, proposal_audit,
contract_revisions, deprecations). Keyword-only functions that take a connection and never
commit: writes run inside the caller's unit of work. Every query is scoped to a tenant,
except the `*_owner` lookups that find which tenant holds an id, to audit cross-tenant probes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from summit_common.sql import Where

PROPOSAL_SUMMARY = (
    "proposal_id, kind, contract, title, owner, status, mode, breaking, published, target_date, created_by,"
    " created_at, updated_at, decided_by, decided_at"
)
PROPOSAL_FULL = (
    PROPOSAL_SUMMARY + ", rationale, current_source, history, proposed_document, rename_hints, analysis, impact,"
    " accept_breaking_reason, request_hash, idempotency_key"
)
JSON_COLUMNS = ("history", "proposed_document", "rename_hints", "analysis", "impact", "detail", "document")


def _row(record: asyncpg.Record | None) -> dict[str, Any] | None:
    if record is None:
        return None
    out = dict(record)
    for key in JSON_COLUMNS:
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


async def insert_proposal(conn: asyncpg.Connection, *, tenant: str, proposal: dict[str, Any]) -> dict[str, Any]:
    row = await conn.fetchrow(
        "INSERT INTO proposals (tenant_id, proposal_id, idempotency_key, request_hash, kind, contract, title, owner,"
        " rationale, target_date, mode, current_source, history, proposed_document, rename_hints, analysis, impact,"
        " breaking, published, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14::jsonb, $15::jsonb, $16::jsonb,"
        " $17::jsonb, $18, $19, $20)"
        f" RETURNING {PROPOSAL_FULL}",
        tenant, proposal["proposal_id"], proposal["idempotency_key"], proposal["request_hash"], proposal["kind"],
        proposal["contract"], proposal["title"], proposal["owner"], proposal["rationale"], proposal["target_date"],
        proposal["mode"], proposal["current_source"], json.dumps(proposal["history"]),
        json.dumps(proposal["proposed_document"]), json.dumps(proposal["rename_hints"]), json.dumps(proposal["analysis"]),
        json.dumps(proposal["impact"]), proposal["breaking"], proposal["published"], proposal["created_by"],
    )
    return _row(row)  # type: ignore[return-value]


async def get_proposal(conn: asyncpg.Connection, *, tenant: str, proposal_id: str, for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {PROPOSAL_FULL} FROM proposals WHERE tenant_id = $1 AND proposal_id = $2{lock}", tenant, proposal_id
    )
    return _row(row)


async def proposal_by_key(conn: asyncpg.Connection, *, tenant: str, idempotency_key: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {PROPOSAL_FULL} FROM proposals WHERE tenant_id = $1 AND idempotency_key = $2", tenant, idempotency_key
    )
    return _row(row)


async def proposal_owner(conn: asyncpg.Connection, *, proposal_id: str) -> str | None:
    """Some tenant that holds this proposal id (ids are unique per tenant only); for auditing."""
    return await conn.fetchval("SELECT tenant_id FROM proposals WHERE proposal_id = $1 LIMIT 1", proposal_id)


async def list_proposals(conn: asyncpg.Connection, *, tenant: str, status: str | None, kind: str | None,
                         contract: str | None, after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    """Newest first; `after` is the (created_at, proposal_id) of the last row of the previous page."""
    where = (Where().equal("tenant_id", tenant).equal("status", status or None).equal("kind", kind or None)
             .equal("contract", contract or None).keyset_below(("created_at", "proposal_id"), after))
    rows = await conn.fetch(
        f"SELECT {PROPOSAL_SUMMARY} FROM proposals {where}"
        f" ORDER BY created_at DESC, proposal_id DESC LIMIT {where.bind(limit)}",
        *where.args,
    )
    return [dict(r) for r in rows]


async def update_analysis(conn: asyncpg.Connection, *, tenant: str, proposal_id: str, history: list, analysis: dict,
                          impact: dict, breaking: bool, published: bool) -> None:
    await conn.execute(
        "UPDATE proposals SET history = $3::jsonb, analysis = $4::jsonb, impact = $5::jsonb, breaking = $6,"
        " published = $7, updated_at = now() WHERE tenant_id = $1 AND proposal_id = $2",
        tenant, proposal_id, json.dumps(history), json.dumps(analysis), json.dumps(impact), breaking, published,
    )


async def set_status(conn: asyncpg.Connection, *, tenant: str, proposal_id: str, status: str,
                     decided_by: str | None = None, decided_at: datetime | None = None,
                     accept_breaking_reason: str | None = None) -> None:
    await conn.execute(
        "UPDATE proposals SET status = $3, decided_by = COALESCE($4, decided_by), decided_at = COALESCE($5, decided_at),"
        " accept_breaking_reason = COALESCE($6, accept_breaking_reason), updated_at = now()"
        " WHERE tenant_id = $1 AND proposal_id = $2",
        tenant, proposal_id, status, decided_by, decided_at, accept_breaking_reason,
    )


# --- audit and comments ------------------------------------------------------------------


async def audit(conn: asyncpg.Connection, *, tenant: str, proposal_id: str, actor: str, action: str,
                from_status: str | None = None, to_status: str | None = None, detail: dict | None = None) -> None:
    await conn.execute(
        "INSERT INTO proposal_audit (tenant_id, proposal_id, actor, action, from_status, to_status, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        tenant, proposal_id, actor, action, from_status, to_status, json.dumps(detail or {}),
    )


async def audit_trail(conn: asyncpg.Connection, *, tenant: str, proposal_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT at, actor, action, from_status, to_status, detail FROM proposal_audit"
        " WHERE tenant_id = $1 AND proposal_id = $2 ORDER BY id",
        tenant, proposal_id,
    )
    return [_row(r) for r in rows]  # type: ignore[misc]


async def last_transition_actor(conn: asyncpg.Connection, *, tenant: str, proposal_id: str) -> str | None:
    return await conn.fetchval(
        "SELECT actor FROM proposal_audit WHERE tenant_id = $1 AND proposal_id = $2 AND action = 'transition'"
        " ORDER BY id DESC LIMIT 1",
        tenant, proposal_id,
    )


async def insert_comment(conn: asyncpg.Connection, *, tenant: str, proposal_id: str, comment_id: str, author: str,
                         body: str, idempotency_key: str | None) -> dict[str, Any] | None:
    """The new comment, or None when this Idempotency-Key was already used on the proposal."""
    row = await conn.fetchrow(
        "INSERT INTO proposal_comments (tenant_id, comment_id, proposal_id, author, body, idempotency_key)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
        " RETURNING comment_id, author, body, created_at",
        tenant, comment_id, proposal_id, author, body, idempotency_key,
    )
    return dict(row) if row else None


async def comment_by_key(conn: asyncpg.Connection, *, tenant: str, proposal_id: str, idempotency_key: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT comment_id, author, body, created_at FROM proposal_comments"
        " WHERE tenant_id = $1 AND proposal_id = $2 AND idempotency_key = $3",
        tenant, proposal_id, idempotency_key,
    )
    return dict(row) if row else None


async def comments(conn: asyncpg.Connection, *, tenant: str, proposal_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT comment_id, author, body, created_at FROM proposal_comments"
        " WHERE tenant_id = $1 AND proposal_id = $2 ORDER BY created_at, comment_id",
        tenant, proposal_id,
    )
    return [dict(r) for r in rows]


# --- contract revisions ------------------------------------------------------------------


async def revisions(conn: asyncpg.Connection, *, tenant: str, contract: str | None = None) -> list[dict[str, Any]]:
    """The tenant's approved revisions (of one contract, or all), oldest first."""
    if contract is None:
        rows = await conn.fetch(
            "SELECT contract, revision, kind, owner, proposal_id, approved_by, approved_at FROM contract_revisions"
            " WHERE tenant_id = $1 ORDER BY contract, revision",
            tenant,
        )
    else:
        rows = await conn.fetch(
            "SELECT contract, revision, kind, owner, document, proposal_id, approved_by, approved_at"
            " FROM contract_revisions WHERE tenant_id = $1 AND contract = $2 ORDER BY revision",
            tenant, contract,
        )
    return [_row(r) for r in rows]  # type: ignore[misc]


async def lock_contract(conn: asyncpg.Connection, *, tenant: str, contract: str) -> None:
    """Serialise decisions on one contract (replicas included) until the transaction ends, so a
    proposal is re-analysed against the revision another approval just added, and two approvals
    never take the same revision number. Re-entrant within a transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"schema-council:{tenant}:{contract}")


async def add_revision(conn: asyncpg.Connection, *, tenant: str, contract: str, kind: str, owner: str, document: Any,
                       proposal_id: str, approved_by: str, approved_at: datetime) -> int:
    await lock_contract(conn, tenant=tenant, contract=contract)
    return await conn.fetchval(
        "INSERT INTO contract_revisions (tenant_id, contract, revision, kind, owner, document, proposal_id, approved_by,"
        " approved_at)"
        " SELECT $1, $2, COALESCE(MAX(revision), 0) + 1, $3, $4, $5::jsonb, $6, $7, $8 FROM contract_revisions"
        " WHERE tenant_id = $1 AND contract = $2 RETURNING revision",
        tenant, contract, kind, owner, json.dumps(document), proposal_id, approved_by, approved_at,
    )


async def contract_owner(conn: asyncpg.Connection, *, contract: str) -> str | None:
    return await conn.fetchval("SELECT tenant_id FROM contract_revisions WHERE contract = $1 LIMIT 1", contract)


# --- deprecations ------------------------------------------------------------------------


async def deprecations(conn: asyncpg.Connection, *, tenant: str, since: datetime | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT contract, version, deprecated_at, sunset_at, replacement, notice, deprecated_by, window_overridden"
        " FROM deprecations WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR deprecated_at >= $2)"
        " ORDER BY deprecated_at DESC, contract, version",
        tenant, since,
    )
    return [dict(r) for r in rows]


async def get_deprecation(conn: asyncpg.Connection, *, tenant: str, contract: str, version: str,
                          for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        "SELECT contract, version, deprecated_at, sunset_at, replacement, notice, deprecated_by, window_overridden"
        f" FROM deprecations WHERE tenant_id = $1 AND contract = $2 AND version = $3{lock}",
        tenant, contract, version,
    )
    return dict(row) if row else None


async def upsert_deprecation(conn: asyncpg.Connection, *, tenant: str, contract: str, version: str,
                             deprecated_at: datetime, sunset_at: datetime, replacement: str | None, notice: str | None,
                             deprecated_by: str, window_overridden: bool) -> dict[str, Any]:
    """Insert, or update the sunset/replacement/notice (the first deprecated_at is kept)."""
    row = await conn.fetchrow(
        "INSERT INTO deprecations (tenant_id, contract, version, deprecated_at, sunset_at, replacement, notice,"
        " deprecated_by, window_overridden) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (tenant_id, contract, version) DO UPDATE SET sunset_at = EXCLUDED.sunset_at,"
        " replacement = EXCLUDED.replacement, notice = EXCLUDED.notice, deprecated_by = EXCLUDED.deprecated_by,"
        " window_overridden = EXCLUDED.window_overridden, updated_at = now()"
        " RETURNING contract, version, deprecated_at, sunset_at, replacement, notice, deprecated_by, window_overridden",
        tenant, contract, version, deprecated_at, sunset_at, replacement, notice, deprecated_by, window_overridden,
    )
    return dict(row)


# --- change log --------------------------------------------------------------------------


async def decided_proposals(conn: asyncpg.Connection, *, tenant: str, since: datetime | None,
                            limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT proposal_id, kind, contract, title, owner, rationale, status, decided_at, decided_by, breaking,"
        " accept_breaking_reason, analysis FROM proposals"
        " WHERE tenant_id = $1 AND decided_at IS NOT NULL AND ($2::timestamptz IS NULL OR decided_at >= $2)"
        " ORDER BY decided_at DESC, proposal_id DESC LIMIT $3",
        tenant, since, limit,
    )
    return [_row(r) for r in rows]  # type: ignore[misc]
