"""SQL for the privacy_orchestrator schema. Functions take a connection and never commit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from services.privacy_orchestrator.domain import Holder

_REQUEST_COLUMNS = """request_id, kind, tenant_id, requested_by, status, holders, subject_enc, created_at,
    fanned_out_at, completed_at, public_key, private_key_enc, bundle_key_enc, bundle_sha256, bundle_bytes,
    expires_at, expired_at, window_days, execute_after, cancelled_at"""


async def insert_request(conn: asyncpg.Connection, **row: Any) -> None:
    columns = ", ".join(row)
    params = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    await conn.execute(f"INSERT INTO requests ({columns}) VALUES ({params})", *row.values())


async def get_request(conn: asyncpg.Connection, request_id: str, kind: str, *, lock: bool = False,
                      skip_locked: bool = False) -> dict | None:
    suffix = " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE request_id = $1 AND kind = $2{suffix}",
                              request_id, kind)
    return dict(row) if row else None


async def bundle_blob(conn: asyncpg.Connection, request_id: str) -> bytes | None:
    return await conn.fetchval("SELECT bundle_enc FROM requests WHERE request_id = $1", request_id)


async def update_request(conn: asyncpg.Connection, request_id: str, **changes: Any) -> None:
    sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
    await conn.execute(f"UPDATE requests SET {sets} WHERE request_id = $1", request_id, *changes.values())


async def list_requests(conn: asyncpg.Connection, *, tenant: str, kind: str, status: str | None, limit: int,
                        after: tuple[datetime, str] | None) -> list[dict]:
    rows = await conn.fetch(
        f"""SELECT {_REQUEST_COLUMNS} FROM requests
            WHERE tenant_id = $1 AND kind = $2 AND ($3::text IS NULL OR status = $3)
              AND ($4::timestamptz IS NULL OR (created_at, request_id) < ($4, $5))
            ORDER BY created_at DESC, request_id DESC LIMIT $6""",
        tenant, kind, status, after[0] if after else None, after[1] if after else None, limit)
    return [dict(r) for r in rows]


async def insert_holders(conn: asyncpg.Connection, request_id: str, services: list[str] | tuple[str, ...],
                         now: datetime) -> None:
    await conn.executemany(
        "INSERT INTO holders (request_id, service, status, attempt, requested_at) VALUES ($1, $2, 'pending', 1, $3)",
        [(request_id, s, now) for s in services])


def _holder(row: asyncpg.Record) -> Holder:
    return Holder(service=row["service"], status=row["status"], attempt=row["attempt"],
                  requested_at=row["requested_at"], exhausted=row["exhausted"])


async def holders_of(conn: asyncpg.Connection, request_id: str) -> list[Holder]:
    rows = await conn.fetch("SELECT service, status, attempt, requested_at, exhausted FROM holders "
                            "WHERE request_id = $1 ORDER BY service", request_id)
    return [_holder(r) for r in rows]


async def holder_views(conn: asyncpg.Connection, request_id: str) -> list[dict]:
    rows = await conn.fetch("SELECT service, status, attempt, exhausted, requested_at, answered_at, counts, error "
                            "FROM holders WHERE request_id = $1 ORDER BY service", request_id)
    return [dict(r) | {"counts": json.loads(r["counts"])} for r in rows]


async def save_holder(conn: asyncpg.Connection, request_id: str, holder: Holder, *, answered_at: datetime | None = None,
                      counts: dict | None = None, error: str | None = None, sealed: dict | None = None) -> None:
    """Write a holder's new state; answer fields are kept when None is given (a retry keeps the last answer)."""
    await conn.execute(
        """UPDATE holders SET status = $3, attempt = $4, exhausted = $5, requested_at = $6,
               answered_at = COALESCE($7, answered_at), counts = COALESCE($8::jsonb, counts),
               error = CASE WHEN $3 = 'ok' THEN NULL ELSE COALESCE($9, error) END,
               sealed = COALESCE($10::jsonb, sealed)
           WHERE request_id = $1 AND service = $2""",
        request_id, holder.service, holder.status, holder.attempt, holder.exhausted, holder.requested_at,
        answered_at, json.dumps(counts) if counts is not None else None, error,
        json.dumps(sealed) if sealed is not None else None)


async def sealed_answers(conn: asyncpg.Connection, request_id: str) -> dict[str, dict]:
    rows = await conn.fetch("SELECT service, sealed FROM holders WHERE request_id = $1 AND sealed IS NOT NULL",
                            request_id)
    return {r["service"]: json.loads(r["sealed"]) for r in rows}


async def discard_sealed(conn: asyncpg.Connection, request_id: str) -> None:
    await conn.execute("UPDATE holders SET sealed = NULL WHERE request_id = $1", request_id)


async def audit(conn: asyncpg.Connection, *, tenant: str, kind: str, request_id: str, step: str, at: datetime,
                actor: str, service: str | None = None, attempt: int | None = None) -> None:
    await conn.execute(
        "INSERT INTO privacy_audit (tenant_id, kind, request_id, step, service, attempt, at, actor) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", tenant, kind, request_id, step, service, attempt, at, actor)


async def audit_trail(conn: asyncpg.Connection, request_id: str) -> list[dict]:
    rows = await conn.fetch("SELECT step, service, attempt, at, actor FROM privacy_audit WHERE request_id = $1 "
                            "ORDER BY id", request_id)
    return [dict(r) for r in rows]


async def request_owner(conn: asyncpg.Connection, request_id: str) -> str | None:
    return await conn.fetchval("SELECT tenant_id FROM requests WHERE request_id = $1", request_id)


# --- the tick's work lists (ids only; each item is then locked and re-checked in its own transaction)


async def due_deletions(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT request_id, tenant_id FROM requests WHERE status = 'scheduled' "
                            "AND execute_after <= $1 ORDER BY execute_after LIMIT $2", now, limit)


async def active_with_open_holders(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT r.request_id, r.kind, r.tenant_id FROM requests r
           WHERE r.status IN ('collecting', 'executing')
             AND EXISTS (SELECT 1 FROM holders h WHERE h.request_id = r.request_id AND h.status <> 'ok' AND NOT h.exhausted)
           ORDER BY r.created_at LIMIT $1""", limit)


async def expired_bundles(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT request_id, tenant_id FROM requests WHERE kind = 'export' AND status = 'complete' "
                            "AND expires_at <= $1 ORDER BY expires_at LIMIT $2", now, limit)
