"""SQL for the api_gateway schema only (companies, company_users, company_api_keys, audit_logs).

Functions take a connection and never commit: writes run inside the caller's unit of work.
Every query that serves a caller is scoped by company_id (the caller's tenant); the few
unscoped lookups exist to recognise a cross-tenant probe (and audit it) or to resolve an
API key, whose company is only known after the lookup.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

# --- companies -------------------------------------------------------------------------


async def insert_company(conn: asyncpg.Connection, *, company_id: str, name: str, created_by: str) -> bool:
    """True when created; False when the id exists (nothing changes)."""
    row = await conn.fetchrow(
        "INSERT INTO companies (company_id, name, created_by) VALUES ($1, $2, $3)"
        " ON CONFLICT (company_id) DO NOTHING RETURNING company_id",
        company_id, name, created_by,
    )
    return row is not None


async def upsert_company(conn: asyncpg.Connection, *, company_id: str, name: str, created_by: str) -> bool:
    """Create or rename (the seed). True when something changed."""
    row = await conn.fetchrow(
        "INSERT INTO companies (company_id, name, created_by) VALUES ($1, $2, $3)"
        " ON CONFLICT (company_id) DO UPDATE SET name = EXCLUDED.name WHERE companies.name IS DISTINCT FROM EXCLUDED.name"
        " RETURNING company_id",
        company_id, name, created_by,
    )
    return row is not None


async def lock_company(conn: asyncpg.Connection, *, company_id: str) -> asyncpg.Record | None:
    """Serialises membership changes of one company (the last-admin rule reads, then writes)."""
    return await conn.fetchrow("SELECT company_id, name FROM companies WHERE company_id = $1 FOR UPDATE", company_id)


async def get_company(conn: asyncpg.Connection, *, company_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT c.company_id, c.name, c.created_by, c.created_at,"
        " (SELECT count(*) FROM company_users u WHERE u.company_id = c.company_id) AS members,"
        " (SELECT count(*) FROM company_api_keys k WHERE k.company_id = c.company_id AND k.revoked_at IS NULL) AS active_api_keys"
        " FROM companies c WHERE c.company_id = $1",
        company_id,
    )
    return dict(row) if row else None


# --- memberships -----------------------------------------------------------------------


async def touch_member_role(conn: asyncpg.Connection, *, company_id: str, user_id: str) -> str | None:
    """The caller's role in the company, or None. Runs on membership-cache misses only, so
    it also refreshes last_access_at (about once per cache TTL per user and replica)."""
    return await conn.fetchval(
        "UPDATE company_users SET last_access_at = now() WHERE company_id = $1 AND user_id = $2 RETURNING role",
        company_id, user_id,
    )


async def member_role(conn: asyncpg.Connection, *, company_id: str, user_id: str) -> str | None:
    return await conn.fetchval("SELECT role FROM company_users WHERE company_id = $1 AND user_id = $2", company_id, user_id)


async def upsert_member(conn: asyncpg.Connection, *, company_id: str, user_id: str, role: str, added_by: str) -> tuple[str, str | None]:
    """Add the user or set their role. Returns (change, previous role) where change is
    'added', 'role_changed' or 'unchanged'."""
    previous = await conn.fetchval(
        "SELECT role FROM company_users WHERE company_id = $1 AND user_id = $2 FOR UPDATE", company_id, user_id
    )
    if previous is None:
        await conn.execute(
            "INSERT INTO company_users (company_id, user_id, role, added_by) VALUES ($1, $2, $3, $4)",
            company_id, user_id, role, added_by,
        )
        return "added", None
    if previous == role:
        return "unchanged", previous
    await conn.execute(
        "UPDATE company_users SET role = $3, updated_at = now() WHERE company_id = $1 AND user_id = $2",
        company_id, user_id, role,
    )
    return "role_changed", previous


async def delete_member(conn: asyncpg.Connection, *, company_id: str, user_id: str) -> str | None:
    """The removed member's role, or None when they were not a member."""
    return await conn.fetchval(
        "DELETE FROM company_users WHERE company_id = $1 AND user_id = $2 RETURNING role", company_id, user_id
    )


async def count_admins(conn: asyncpg.Connection, *, company_id: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM company_users WHERE company_id = $1 AND role = 'admin'", company_id)


async def list_members(conn: asyncpg.Connection, *, company_id: str, limit: int, after_user_id: str | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT user_id, role, added_by, created_at, updated_at, last_access_at FROM company_users"
        " WHERE company_id = $1 AND ($2::text IS NULL OR user_id > $2) ORDER BY user_id LIMIT $3",
        company_id, after_user_id, limit,
    )
    return [dict(r) for r in rows]


# --- API keys --------------------------------------------------------------------------

_KEY_COLUMNS = "key_id, company_id, name, key_prefix, role, created_by, created_at, revoked_at, revoked_by"


async def insert_api_key(conn: asyncpg.Connection, *, key_id: uuid.UUID, company_id: str, name: str, key_prefix: str,
                         key_hash: str, role: str, created_by: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "INSERT INTO company_api_keys (key_id, company_id, name, key_prefix, key_hash, role, created_by)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_KEY_COLUMNS}",
        key_id, company_id, name, key_prefix, key_hash, role, created_by,
    )
    return dict(row)


async def api_key_by_prefix(conn: asyncpg.Connection, *, key_prefix: str) -> asyncpg.Record | None:
    """Unscoped on purpose: the key tells its company. Includes the hash to compare."""
    return await conn.fetchrow(f"SELECT {_KEY_COLUMNS}, key_hash FROM company_api_keys WHERE key_prefix = $1", key_prefix)


async def api_key_company(conn: asyncpg.Connection, *, key_id: uuid.UUID) -> str | None:
    """The owner of a key id, whatever the tenant (to audit a cross-tenant probe)."""
    return await conn.fetchval("SELECT company_id FROM company_api_keys WHERE key_id = $1", key_id)


async def revoke_api_key(conn: asyncpg.Connection, *, company_id: str, key_id: uuid.UUID,
                         revoked_by: str) -> tuple[asyncpg.Record, bool] | None:
    """Revoke one of the company's keys. Returns (row, newly revoked); a key revoked before
    keeps its first revocation. None when the company has no such key."""
    row = await conn.fetchrow(
        "WITH old AS (SELECT key_id, revoked_at FROM company_api_keys WHERE company_id = $1 AND key_id = $2 FOR UPDATE)"
        " UPDATE company_api_keys k SET revoked_at = coalesce(k.revoked_at, now()), revoked_by = coalesce(k.revoked_by, $3)"
        " FROM old WHERE k.key_id = old.key_id"
        " RETURNING k.key_id, k.company_id, k.name, k.key_prefix, k.role, k.created_by, k.created_at, k.revoked_at,"
        " k.revoked_by, k.key_hash, old.revoked_at IS NULL AS newly_revoked",
        company_id, key_id, revoked_by,
    )
    return (row, row["newly_revoked"]) if row else None


async def list_api_keys(conn: asyncpg.Connection, *, company_id: str, limit: int,
                        after: tuple[datetime, uuid.UUID] | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_KEY_COLUMNS} FROM company_api_keys WHERE company_id = $1"
        " AND ($2::timestamptz IS NULL OR (created_at, key_id) > ($2, $3::uuid)) ORDER BY created_at, key_id LIMIT $4",
        company_id, after[0] if after else None, after[1] if after else None, limit,
    )
    return [dict(r) for r in rows]


# --- audit -----------------------------------------------------------------------------


async def insert_audit(conn: asyncpg.Connection, *, company_id: str | None, actor: str | None, action: str, outcome: str,
                       reason: str, status: int | None = None, method: str | None = None, path: str | None = None,
                       correlation_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    await conn.execute(
        "INSERT INTO audit_logs (company_id, actor, action, outcome, status, reason, method, path, correlation_id, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)",
        company_id, actor, action, outcome, status, reason, method, path, correlation_id, json.dumps(detail or {}),
    )


async def list_audit(conn: asyncpg.Connection, *, company_id: str, limit: int, before_id: int | None,
                     outcome: str | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, at, company_id, actor, action, outcome, status, reason, method, path, correlation_id, detail"
        " FROM audit_logs WHERE company_id = $1 AND ($2::bigint IS NULL OR id < $2) AND ($3::text IS NULL OR outcome = $3)"
        " ORDER BY id DESC LIMIT $4",
        company_id, before_id, outcome, limit,
    )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]
