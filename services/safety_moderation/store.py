"""SQL for the safety_moderation schema only (tables: screenings, flags).

Functions take a connection, are keyword-only after it, and never commit: writes run in the
caller's unit of work. jsonb travels as JSON text (the chassis pool has no jsonb codec).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.safety_moderation import domain

_FLAG_COLUMNS = (
    "flag_id, tenant_id, content_type, content_id, content_sha256, held, category, severity, rule_id, matches,"
    " masked_text, excerpt, policy_version, status, decision, reason, reviewer, decided_at, created_at"
)


def as_uuid(value: str) -> uuid.UUID | None:
    """None for text that is not a UUID, so a malformed id reads as 'not found'."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


# --- screenings -----------------------------------------------------------------------------


async def insert_screening(
    conn: asyncpg.Connection, *, tenant: str, content_type: str, content_id: str, content_sha256: str, outcome: str,
    verdict: str, flag_id: str | None, policy_version: str, event_id: str, screened_at: datetime,
    author: tuple[str, str] | None = None,
) -> bool:
    """Record a screening; False when this text of this record was screened before (any event id).
    A concurrent insert of the same key (another replica) waits for that transaction, then loses."""
    inserted = await conn.fetchval(
        "INSERT INTO screenings (tenant_id, content_type, content_id, content_sha256, outcome, verdict, flag_id,"
        " policy_version, event_id, screened_at, author_system, author_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT (tenant_id, content_type, content_id, content_sha256) DO NOTHING RETURNING true",
        tenant, content_type, content_id, content_sha256, outcome, verdict,
        uuid.UUID(flag_id) if flag_id else None, policy_version, event_id, screened_at, *(author or (None, None)),
    )
    return bool(inserted)


async def latest_screening(conn: asyncpg.Connection, *, tenant: str, content_type: str, content_id: str) -> dict[str, Any] | None:
    """The most recent screening of a record, with the review state of its flag."""
    row = await conn.fetchrow(
        "SELECT s.content_type, s.content_id, s.content_sha256, s.outcome, s.verdict, s.flag_id, s.policy_version,"
        " s.screened_at, f.status AS review_status, f.decision"
        " FROM screenings s LEFT JOIN flags f ON f.flag_id = s.flag_id"
        " WHERE s.tenant_id = $1 AND s.content_type = $2 AND s.content_id = $3"
        " ORDER BY s.screened_at DESC, s.content_sha256 LIMIT 1",
        tenant, content_type, content_id,
    )
    if row is None:
        return None
    out = dict(row)
    out["flag_id"] = str(row["flag_id"]) if row["flag_id"] else None
    out["releasable"] = domain.releasable(row["verdict"], row["decision"])
    return out


async def screening_owner(conn: asyncpg.Connection, *, content_type: str, content_id: str) -> str | None:
    """Some tenant that screened this record id (ids are only unique per tenant); for auditing."""
    return await conn.fetchval(
        "SELECT tenant_id FROM screenings WHERE content_type = $1 AND content_id = $2 LIMIT 1", content_type, content_id
    )


# --- flags (the review queue) ---------------------------------------------------------------


async def insert_flag(
    conn: asyncpg.Connection, *, flag_id: str, tenant: str, content_type: str, content_id: str,
    screening: domain.Screening, created_at: datetime, author: tuple[str, str] | None = None,
) -> None:
    primary = screening.primary
    assert primary is not None and screening.masked_text is not None and screening.excerpt is not None
    severity = screening.severity or primary.severity
    await conn.execute(
        "INSERT INTO flags (flag_id, tenant_id, content_type, content_id, content_sha256, held, category, severity,"
        " severity_rank, rule_id, matches, masked_text, excerpt, policy_version, created_at, author_system, author_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15, $16, $17)",
        uuid.UUID(flag_id), tenant, content_type, content_id, screening.content_sha256, screening.outcome == "held",
        primary.category, severity, domain.SEVERITY_RANK[severity], primary.rule_id,
        json.dumps(_distinct_summaries(screening.matches)), screening.masked_text, screening.excerpt,
        screening.policy_version, created_at, *(author or (None, None)),
    )


def _distinct_summaries(matches: tuple[domain.Match, ...]) -> list[dict[str, Any]]:
    """One entry per (rule, pii kind) with a count: which rules fired, not where."""
    counted: dict[tuple[str, str | None], dict[str, Any]] = {}
    for m in matches:
        entry = counted.setdefault((m.rule_id, m.pii), {**m.summary(), "count": 0})
        entry["count"] += 1
    return list(counted.values())


def flag_view(row: asyncpg.Record, *, full: bool = True) -> dict[str, Any]:
    view = {
        "flag_id": str(row["flag_id"]),
        "tenant": row["tenant_id"],
        "content_type": row["content_type"],
        "content_id": row["content_id"],
        "held": row["held"],
        "category": row["category"],
        "severity": row["severity"],
        "rule_id": row["rule_id"],
        "excerpt": row["excerpt"],
        "policy_version": row["policy_version"],
        "status": row["status"],
        "decision": row["decision"],
        "reviewer": row["reviewer"],
        "decided_at": row["decided_at"],
        "created_at": row["created_at"],
    }
    if full:
        view.update({
            "masked_text": row["masked_text"],
            "content_sha256": row["content_sha256"],
            "matches": json.loads(row["matches"]),
            "reason": row["reason"],
        })
    return view


async def get_flag(conn: asyncpg.Connection, *, flag_id: str, for_update: bool = False) -> asyncpg.Record | None:
    """Any tenant's flag: callers check the tenant (so a cross-tenant probe can be audited).
    `for_update` holds the row lock until commit: concurrent decisions serialise here."""
    key = as_uuid(flag_id)
    if key is None:
        return None
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {_FLAG_COLUMNS} FROM flags WHERE flag_id = $1{lock}", key)


async def record_decision(
    conn: asyncpg.Connection, *, flag_id: str, decision: str, reason: str | None, reviewer: str, decided_at: datetime,
) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE flags SET status = 'decided', decision = $2, reason = $3, reviewer = $4, decided_at = $5"
        f" WHERE flag_id = $1 AND status = 'pending' RETURNING {_FLAG_COLUMNS}",
        uuid.UUID(flag_id), decision, reason, reviewer, decided_at,
    )


async def list_flags(
    conn: asyncpg.Connection, *, tenant: str, status: str, category: str | None = None, severity: str | None = None,
    content_id: str | None = None, after: tuple | None = None, limit: int,
) -> list[asyncpg.Record]:
    """One page of a tenant's flags. pending: most severe first, then oldest first (the review
    order); decided: most recently decided first. `after` is the sort key of the last row."""
    clauses, args = ["tenant_id = $1", "status = $2"], [tenant, status]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if category:
        clauses.append(f"category = {arg(category)}")
    if severity:
        clauses.append(f"severity = {arg(severity)}")
    if content_id:
        clauses.append(f"content_id = {arg(content_id)}")
    if status == "pending":
        order = "severity_rank DESC, flag_id"
        if after is not None:
            rank, last = after
            clauses.append(f"(severity_rank < {arg(rank)} OR (severity_rank = ${len(args)} AND flag_id > {arg(last)}))")
    else:
        order = "decided_at DESC, flag_id DESC"
        if after is not None:
            decided_at, last = after
            clauses.append(f"(decided_at, flag_id) < ({arg(decided_at)}, {arg(last)})")
    sql = f"SELECT {_FLAG_COLUMNS}, severity_rank FROM flags WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT {arg(limit)}"
    return await conn.fetch(sql, *args)



# --- data-subject requests (privacy.py) ---------------------------------------------------

_BY_AUTHOR = "tenant_id = $1 AND (author_system, author_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))"


async def export_author(conn: asyncpg.Connection, *, tenant: str, refs: tuple[list[str], list[str]]
                        ) -> dict[str, list[dict[str, Any]]]:
    """The screenings and flags of the texts a person wrote, in one tenant. The reviewer's id
    is left out: it is about the staff member, not the subject."""
    screenings = await conn.fetch(
        "SELECT content_type, content_id, outcome, verdict, flag_id, policy_version, screened_at"
        f" FROM screenings WHERE {_BY_AUTHOR} ORDER BY screened_at, content_type, content_id", tenant, *refs)
    flags = await conn.fetch(
        "SELECT flag_id, content_type, content_id, held, category, severity, masked_text, excerpt, status, decision,"
        f" reason, created_at, decided_at FROM flags WHERE {_BY_AUTHOR} ORDER BY flag_id", tenant, *refs)
    return {
        "screenings": [{**dict(r), "flag_id": str(r["flag_id"]) if r["flag_id"] else None} for r in screenings],
        "flags": [{**dict(r), "flag_id": str(r["flag_id"])} for r in flags],
    }


async def erase_author(conn: asyncpg.Connection, *, tenant: str, refs: tuple[list[str], list[str]]) -> dict[str, int]:
    """Deletes the person's screenings and their flags (pending ones leave the review queue).
    A decision being recorded holds the flag's row lock: the delete waits for it, and a decision
    arriving after the delete finds no flag (404). Idempotent: a second call deletes nothing."""
    flag_ids = await conn.fetch(f"DELETE FROM screenings WHERE {_BY_AUTHOR} RETURNING flag_id", tenant, *refs)
    # Flags by author, plus any flag of the person's screenings (same author, belt and braces).
    flags = await conn.execute(
        f"DELETE FROM flags WHERE ({_BY_AUTHOR}) OR (tenant_id = $1 AND flag_id = ANY($4::uuid[]))",
        tenant, *refs, [r["flag_id"] for r in flag_ids if r["flag_id"] is not None])
    return {"screenings": len(flag_ids), "flags": int(flags.split()[-1])}
