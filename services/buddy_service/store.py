"""SQL for the buddy_service schema only (tables: buddy_matches, buddy_events, buddy_checkins,
buddy_feedback, imports).

Functions take a connection, are keyword-only, and never commit: writes run inside the
caller's unit of work. Bulk writes use unnest() so an import is a handful of statements
whatever its size. Every query is scoped by tenant, except the *_owner lookups used to
audit cross-tenant probes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.buddy_service import domain
from services.buddy_service.domain import Match, Record
from summit_common.sql import Where


@dataclass(frozen=True)
class _Table:
    name: str
    record_type: type
    id_column: str
    pg_types: dict[str, str]  # record field (= column) -> Postgres type

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.record_type))


TABLES: dict[str, _Table] = {
    domain.MATCHES: _Table("buddy_matches", domain.Match, "match_id", {
        "match_id": "text", "participant_id": "text", "buddy_id": "text", "matched_at": "timestamptz",
        "program": "text"}),
    domain.EVENTS: _Table("buddy_events", domain.Activity, "event_id", {
        "event_id": "text", "match_id": "text", "category": "text", "occurred_at": "timestamptz",
        "duration_minutes": "int", "participant_id": "text"}),
    domain.CHECKINS: _Table("buddy_checkins", domain.Checkin, "checkin_id", {
        "checkin_id": "text", "match_id": "text", "completed_at": "timestamptz", "mood": "smallint", "notes": "text",
        "participant_id": "text"}),
    domain.FEEDBACK: _Table("buddy_feedback", domain.Feedback, "feedback_id", {
        "feedback_id": "text", "match_id": "text", "from_role": "text", "submitted_at": "timestamptz",
        "rating": "smallint", "text": "text", "participant_id": "text"}),
}


async def lock_tenant(conn: asyncpg.Connection, *, tenant: str) -> None:
    """Serialise writers of one tenant (replicas included), so an import plans against stable state."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"buddy-service:{tenant}")


async def load_records(conn: asyncpg.Connection, *, kind: str, tenant: str, ids: Sequence[str]) -> dict[str, Record]:
    """The stored records of `kind` with these ids, as domain records."""
    table = TABLES[kind]
    if not ids:
        return {}
    rows = await conn.fetch(
        f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE tenant_id = $1 AND {table.id_column} = ANY($2::text[])",
        tenant, sorted(set(ids)),
    )
    return {row[table.id_column]: table.record_type(**dict(row)) for row in rows}


async def load_matches(conn: asyncpg.Connection, *, tenant: str, match_ids: Sequence[str]) -> dict[str, Match]:
    return await load_records(conn, kind=domain.MATCHES, tenant=tenant, ids=match_ids)  # type: ignore[return-value]


async def insert_records(
    conn: asyncpg.Connection, *, kind: str, tenant: str, records: Sequence[Record], origin: str, import_id: str,
) -> set[str]:
    """Insert records not stored yet; returns the ids actually inserted (a conflict inserts nothing)."""
    if not records:
        return set()
    table = TABLES[kind]
    columns = table.columns
    arrays = [[getattr(r, c) for r in records] for c in columns]
    unnest = ", ".join(f"${i + 4}::{table.pg_types[c]}[]" for i, c in enumerate(columns))
    rows = await conn.fetch(
        f"INSERT INTO {table.name} (tenant_id, origin, import_id, {', '.join(columns)})"
        f" SELECT $1, $2, $3, {', '.join('u.' + c for c in columns)} FROM unnest({unnest}) AS u({', '.join(columns)})"
        f" ON CONFLICT (tenant_id, {table.id_column}) DO NOTHING RETURNING {table.id_column}",
        tenant, origin, import_id, *arrays,
    )
    return {r[table.id_column] for r in rows}


# --- import reports ---------------------------------------------------------------------


async def insert_import(
    conn: asyncpg.Connection, *, tenant: str, report: dict[str, Any], content_sha256: str,
) -> None:
    await conn.execute(
        "INSERT INTO imports (import_id, tenant_id, format, timezone, content_sha256, rows_total, accepted, rejected,"
        " duplicates, sections, errors, records, imported_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12::jsonb, $13, $14)",
        report["import_id"], tenant, report["format"], report["timezone"], content_sha256, report["rows_total"],
        report["accepted"], report["rejected"], report["duplicates"], json.dumps(report["sections"]),
        json.dumps(report["errors"]), json.dumps(report["records"]), report["imported_by"],
        datetime.fromisoformat(report["created_at"]),
    )


# What GET /v1/imports/{id} returns (summit_common.imports.get_import_report reads them).
IMPORT_REPORT_COLUMNS = ("import_id", "format", "timezone", "rows_total", "accepted", "rejected", "duplicates",
                         "sections", "errors", "records", "imported_by", "created_at")


async def count_imports(conn: asyncpg.Connection, *, tenant: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM imports WHERE tenant_id = $1", tenant)


# --- matches ----------------------------------------------------------------------------

MATCH_COLUMNS = "match_id, participant_id, buddy_id, matched_at, program, origin, import_id, created_at"


def _match_out(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "match_id": row["match_id"],
        "participant": domain.ref(row["participant_id"]),
        "buddy": domain.ref(row["buddy_id"]),
        "matched_at": row["matched_at"].isoformat(),
        "program": row["program"],
        "origin": row["origin"],
        "import_id": row["import_id"],
        "created_at": row["created_at"].isoformat(),
    }


async def get_match(conn: asyncpg.Connection, *, tenant: str, match_id: str) -> dict[str, Any] | None:
    """One match with how many activities, check-ins and feedback it has, and when the last one happened."""
    row = await conn.fetchrow(
        f"SELECT {MATCH_COLUMNS},"
        " (SELECT count(*) FROM buddy_events e WHERE e.tenant_id = m.tenant_id AND e.match_id = m.match_id) AS events,"
        " (SELECT count(*) FROM buddy_checkins c WHERE c.tenant_id = m.tenant_id AND c.match_id = m.match_id) AS checkins,"
        " (SELECT count(*) FROM buddy_feedback f WHERE f.tenant_id = m.tenant_id AND f.match_id = m.match_id) AS feedback,"
        " GREATEST("
        "  (SELECT max(occurred_at) FROM buddy_events e WHERE e.tenant_id = m.tenant_id AND e.match_id = m.match_id),"
        "  (SELECT max(completed_at) FROM buddy_checkins c WHERE c.tenant_id = m.tenant_id AND c.match_id = m.match_id),"
        "  (SELECT max(submitted_at) FROM buddy_feedback f WHERE f.tenant_id = m.tenant_id AND f.match_id = m.match_id)"
        " ) AS last_activity_at"
        " FROM buddy_matches m WHERE m.tenant_id = $1 AND m.match_id = $2",
        tenant, match_id,
    )
    if row is None:
        return None
    match = _match_out(row)
    match["counts"] = {"events": row["events"], "checkins": row["checkins"], "feedback": row["feedback"]}
    match["last_activity_at"] = row["last_activity_at"].isoformat() if row["last_activity_at"] else None
    return match


async def match_owner(conn: asyncpg.Connection, *, match_id: str) -> str | None:
    """Some tenant that holds this match id (ids are unique per tenant only); for auditing."""
    return await conn.fetchval("SELECT tenant_id FROM buddy_matches WHERE match_id = $1 LIMIT 1", match_id)


async def list_matches(
    conn: asyncpg.Connection, *, tenant: str, participant: str | None, buddy: str | None, program: str | None,
    matched_from: datetime | None, matched_to: datetime | None, after: tuple[datetime, str] | None, limit: int,
) -> list[dict[str, Any]]:
    """Newest first; `after` is the (matched_at, match_id) of the last row of the previous page."""
    where = (Where().equal("tenant_id", tenant).equal("participant_id", participant or None)
             .equal("buddy_id", buddy or None).equal("program", program or None)
             .at_least("matched_at", matched_from).below("matched_at", matched_to)
             .keyset_below(("matched_at", "match_id"), after))
    rows = await conn.fetch(
        f"SELECT {MATCH_COLUMNS} FROM buddy_matches {where}"
        f" ORDER BY matched_at DESC, match_id DESC LIMIT {where.bind(limit)}",
        *where.args,
    )
    return [_match_out(r) for r in rows]


# --- data-subject requests (privacy.py) ---------------------------------------------------

ERASED_BUDDY = "erased"
REDACTED = "redacted: a data-subject erasure removed this reason"
_RECORD_COLUMNS = {
    "buddy_events": "event_id, match_id, participant_id, category, occurred_at, duration_minutes, origin, import_id",
    "buddy_checkins": "checkin_id, match_id, participant_id, completed_at, mood, notes, origin, import_id",
    "buddy_feedback": "feedback_id, match_id, participant_id, from_role, rating, text, submitted_at, origin, import_id",
}
_RECORD_IDS = {"buddy_events": "event_id", "buddy_checkins": "checkin_id", "buddy_feedback": "feedback_id"}


def _subject_records(table: str) -> str:
    """The participant's records, and (feedback only) what the person wrote as a match's buddy."""
    as_buddy = (" OR (r.from_role = 'buddy' AND EXISTS (SELECT 1 FROM buddy_matches m WHERE m.tenant_id = r.tenant_id"
                " AND m.match_id = r.match_id AND m.buddy_id = ANY($2::text[])))") if table == "buddy_feedback" else ""
    return f" FROM {table} r WHERE r.tenant_id = $1 AND (r.participant_id = ANY($2::text[]){as_buddy})"


async def subject_records(conn: asyncpg.Connection, *, tenant: str, table: str, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {_RECORD_COLUMNS[table]}{_subject_records(table)} ORDER BY 1", tenant, ids)
    return [dict(r) for r in rows]


async def delete_subject_records(conn: asyncpg.Connection, *, tenant: str, table: str, ids: list[str]) -> list[str]:
    """Deletes them; returns their ids."""
    rows = await conn.fetch(f"DELETE{_subject_records(table)} RETURNING r.{_RECORD_IDS[table]}", tenant, ids)
    return [r[0] for r in rows]


async def subject_matches(conn: asyncpg.Connection, *, tenant: str, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {MATCH_COLUMNS} FROM buddy_matches WHERE tenant_id = $1"
        " AND (participant_id = ANY($2::text[]) OR buddy_id = ANY($2::text[])) ORDER BY matched_at, match_id",
        tenant, ids,
    )
    return [_match_out(r) for r in rows]


async def participant_match_ids(conn: asyncpg.Connection, *, tenant: str, ids: list[str]) -> list[str]:
    rows = await conn.fetch(
        "SELECT match_id FROM buddy_matches WHERE tenant_id = $1 AND participant_id = ANY($2::text[])", tenant, ids)
    return [r[0] for r in rows]


async def delete_participant_matches(conn: asyncpg.Connection, *, tenant: str, ids: list[str]) -> int:
    """The participant's matches go whole (their records were deleted first)."""
    status = await conn.execute(
        "DELETE FROM buddy_matches WHERE tenant_id = $1 AND participant_id = ANY($2::text[])", tenant, ids)
    return int(status.split()[-1])


async def anonymise_buddy(conn: asyncpg.Connection, *, tenant: str, ids: list[str]) -> int:
    """A buddy's matches are the participants' records too: keep them, drop the buddy's id."""
    status = await conn.execute(
        "UPDATE buddy_matches SET buddy_id = $3 WHERE tenant_id = $1 AND buddy_id = ANY($2::text[])",
        tenant, ids, ERASED_BUDDY)
    return int(status.split()[-1])


# An error line names a person by quoting an id in its reason; a records line by its record id.
_NAMES = "EXISTS (SELECT 1 FROM unnest($2::text[]) AS p(name) WHERE strpos(e->>'reason', p.name) > 0)"
_IS_NAMED = "e->>'id' = ANY($2::text[])"


async def import_lines_naming(conn: asyncpg.Connection, *, tenant: str, names: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT i.import_id, 'error' AS part, e FROM imports i, jsonb_array_elements(i.errors) e"
        f" WHERE i.tenant_id = $1 AND {_NAMES}"
        " UNION ALL SELECT i.import_id, 'record', e FROM imports i, jsonb_array_elements(i.records) e"
        f" WHERE i.tenant_id = $1 AND {_IS_NAMED} ORDER BY 1, 2",
        tenant, names,
    )
    return [{"import_id": r["import_id"], "part": r["part"], **json.loads(r["e"])} for r in rows]


async def redact_import_lines(conn: asyncpg.Connection, *, tenant: str, names: list[str]) -> int:
    """Redacts error reasons and record ids naming the person; the counters stay. Returns reports changed."""
    status = await conn.execute(
        "UPDATE imports i SET"
        f" errors = (SELECT coalesce(jsonb_agg(CASE WHEN {_NAMES} THEN jsonb_set(e, '{{reason}}', to_jsonb($3::text))"
        " ELSE e END ORDER BY n), '[]'::jsonb) FROM jsonb_array_elements(i.errors) WITH ORDINALITY AS x(e, n)),"
        f" records = (SELECT coalesce(jsonb_agg(CASE WHEN {_IS_NAMED} THEN jsonb_set(e, '{{id}}', 'null'::jsonb)"
        " ELSE e END ORDER BY n), '[]'::jsonb) FROM jsonb_array_elements(i.records) WITH ORDINALITY AS x(e, n))"
        f" WHERE i.tenant_id = $1 AND (EXISTS (SELECT 1 FROM jsonb_array_elements(i.errors) e WHERE {_NAMES})"
        f" OR EXISTS (SELECT 1 FROM jsonb_array_elements(i.records) e WHERE {_IS_NAMED}))",
        tenant, names, REDACTED,
    )
    return int(status.split()[-1])
