"""SQL for the kintell_connector schema only (tables: kintell_sessions, kintell_ratings, imports).

Functions take a connection and never commit: writes run inside the caller's unit of work.
Bulk writes use unnest() so a large import is a handful of statements, not one per row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.kintell_connector.domain import Rating, SessionRecord, topics_json
from summit_common.sql import Where

SESSION_COLUMNS = (
    "session_id, session_type, status, participant_id, volunteer_id, started_at, duration_minutes,"
    " language, level, topics, notes, origin, import_id, created_at, updated_at"
)


async def lock_tenant(conn: asyncpg.Connection, tenant: str) -> None:
    """Serialise writers of one tenant (replicas included) so an import plans against stable state."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"kintell-connector:{tenant}")


async def session_statuses(conn: asyncpg.Connection, tenant: str, session_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT session_id, status FROM kintell_sessions WHERE tenant_id = $1 AND session_id = ANY($2::text[])",
        tenant, list(set(session_ids)),
    )
    return {r["session_id"]: r["status"] for r in rows}


def _session_arrays(records: Sequence[SessionRecord]) -> list[list[Any]]:
    return [
        [r.session_id for r in records],
        [r.session_type for r in records],
        [r.status for r in records],
        [r.participant_id for r in records],
        [r.volunteer_id for r in records],
        [r.start for r in records],
        [r.duration_minutes for r in records],
        [r.language for r in records],
        [r.level for r in records],
        [topics_json(r.topics) for r in records],
        [r.notes for r in records],
    ]


_UNNEST_SESSIONS = (
    "unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::int[],"
    " $11::text[], $12::text[], $13::text[], $14::text[])"
    " AS u(session_id, session_type, status, participant_id, volunteer_id, started_at, duration_minutes,"
    " language, level, topics, notes)"
)


async def insert_sessions(conn: asyncpg.Connection, tenant: str, records: Sequence[SessionRecord], *, origin: str,
                          import_id: str | None) -> set[str]:
    """Insert sessions not stored yet; returns the ids actually inserted."""
    if not records:
        return set()
    rows = await conn.fetch(
        "INSERT INTO kintell_sessions (tenant_id, origin, import_id, session_id, session_type, status, participant_id,"
        " volunteer_id, started_at, duration_minutes, language, level, topics, notes)"
        " SELECT $1, $2, $3, u.session_id, u.session_type, u.status, u.participant_id, u.volunteer_id, u.started_at,"
        " u.duration_minutes, u.language, u.level, u.topics::jsonb, u.notes"
        f" FROM {_UNNEST_SESSIONS}"
        " ON CONFLICT (tenant_id, session_id) DO NOTHING RETURNING session_id",
        tenant, origin, import_id, *_session_arrays(records),
    )
    return {r["session_id"] for r in rows}


async def advance_sessions(conn: asyncpg.Connection, tenant: str, records: Sequence[SessionRecord], *, origin: str,
                           import_id: str | None) -> set[str]:
    """Move scheduled sessions to their new status, taking the newer record's details; returns the ids moved."""
    if not records:
        return set()
    rows = await conn.fetch(
        "UPDATE kintell_sessions s SET status = u.status, session_type = u.session_type,"
        " participant_id = u.participant_id, volunteer_id = u.volunteer_id, started_at = u.started_at,"
        " duration_minutes = u.duration_minutes, language = u.language, level = u.level, topics = u.topics::jsonb,"
        " notes = u.notes, origin = $2, import_id = $3, updated_at = now()"
        f" FROM {_UNNEST_SESSIONS}"
        " WHERE s.tenant_id = $1 AND s.session_id = u.session_id AND s.status = 'scheduled' AND u.status <> 'scheduled'"
        " RETURNING s.session_id",
        tenant, origin, import_id, *_session_arrays(records),
    )
    return {r["session_id"] for r in rows}


async def insert_ratings(conn: asyncpg.Connection, tenant: str, ratings: Sequence[Rating], *, origin: str) -> set[str]:
    """Insert ratings not stored yet (first one wins); returns the ids actually inserted."""
    if not ratings:
        return set()
    rows = await conn.fetch(
        "INSERT INTO kintell_ratings (tenant_id, origin, rating_id, session_id, rater_role, rater_id, score, comment,"
        " rated_at)"
        " SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::smallint[], $8::text[],"
        " $9::timestamptz[]) AS u"
        " ON CONFLICT (tenant_id, rating_id) DO NOTHING RETURNING rating_id",
        tenant, origin,
        [r.rating_id for r in ratings], [r.session_id for r in ratings], [r.rater_role for r in ratings],
        [r.rater_id for r in ratings], [r.score for r in ratings], [r.comment for r in ratings],
        [r.created_at for r in ratings],
    )
    return {r["rating_id"] for r in rows}


async def insert_import(conn: asyncpg.Connection, report: dict[str, Any], *, tenant: str, content_sha256: str) -> None:
    await conn.execute(
        "INSERT INTO imports (import_id, tenant_id, mapping, filename, content_sha256, rows_total, accepted, rejected,"
        " duplicates, errors, ignored_columns, imported_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12, $13)",
        report["import_id"], tenant, report["mapping"], report["filename"], content_sha256, report["rows_total"],
        report["accepted"], report["rejected"], report["duplicates"], json.dumps(report["errors"]),
        json.dumps(report["ignored_columns"]), report["imported_by"], datetime.fromisoformat(report["created_at"]),
    )


# What GET /v1/imports/{id} returns (summit_common.imports.get_import_report reads them).
IMPORT_REPORT_COLUMNS = ("import_id", "mapping", "filename", "rows_total", "accepted", "rejected", "duplicates",
                         "errors", "ignored_columns", "imported_by", "created_at")


def _session_out(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "session_id": row["session_id"],
        "session_type": row["session_type"],
        "status": row["status"],
        "participant": {"system": "kintell", "id": row["participant_id"]},
        "volunteer": {"system": "kintell", "id": row["volunteer_id"]},
        "started_at": row["started_at"].isoformat(),
        "duration_minutes": row["duration_minutes"],
        "language": row["language"],
        "level": row["level"],
        "topics": json.loads(row["topics"]),
        "notes": row["notes"],
        "origin": row["origin"],
        "import_id": row["import_id"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


async def get_session(conn: asyncpg.Connection, tenant: str, session_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {SESSION_COLUMNS} FROM kintell_sessions WHERE tenant_id = $1 AND session_id = $2", tenant, session_id
    )
    if row is None:
        return None
    session = _session_out(row)
    ratings = await conn.fetch(
        "SELECT rating_id, rater_role, rater_id, score, comment, rated_at FROM kintell_ratings"
        " WHERE tenant_id = $1 AND session_id = $2 ORDER BY rater_role",
        tenant, session_id,
    )
    session["ratings"] = [
        {
            "rating_id": r["rating_id"],
            "rater_role": r["rater_role"],
            "rated_by": {"system": "kintell", "id": r["rater_id"]},
            "score": r["score"],
            "comment": r["comment"],
            "created_at": r["rated_at"].isoformat(),
        }
        for r in ratings
    ]
    return session


async def load_session(conn: asyncpg.Connection, tenant: str, session_id: str) -> SessionRecord | None:
    """The stored session as a domain record (to check a rating against it)."""
    row = await conn.fetchrow(
        f"SELECT {SESSION_COLUMNS} FROM kintell_sessions WHERE tenant_id = $1 AND session_id = $2", tenant, session_id
    )
    if row is None:
        return None
    return SessionRecord(
        session_id=row["session_id"], session_type=row["session_type"], status=row["status"],
        participant_id=row["participant_id"], volunteer_id=row["volunteer_id"], start=row["started_at"],
        duration_minutes=row["duration_minutes"], language=row["language"], level=row["level"],
        topics=tuple(json.loads(row["topics"])), notes=row["notes"],
    )


async def session_owner(conn: asyncpg.Connection, session_id: str) -> str | None:
    """Some tenant that holds this session id (ids are only unique per tenant); for auditing."""
    return await conn.fetchval("SELECT tenant_id FROM kintell_sessions WHERE session_id = $1 LIMIT 1", session_id)


async def list_sessions(
    conn: asyncpg.Connection, tenant: str, *, session_type: str | None, participant: str | None, status: str | None,
    start_from: datetime | None, start_to: datetime | None, after: tuple[datetime, str] | None, limit: int,
) -> list[dict[str, Any]]:
    """Newest first; `after` is the (started_at, session_id) of the last row of the previous page."""
    where = (Where().equal("tenant_id", tenant).equal("session_type", session_type or None)
             .equal("participant_id", participant or None).equal("status", status or None)
             .at_least("started_at", start_from).below("started_at", start_to)
             .keyset_below(("started_at", "session_id"), after))
    rows = await conn.fetch(
        f"SELECT {SESSION_COLUMNS} FROM kintell_sessions {where}"
        f" ORDER BY started_at DESC, session_id DESC LIMIT {where.bind(limit)}",
        *where.args,
    )
    return [_session_out(r) for r in rows]


# --- data-subject requests (privacy.py) ---------------------------------------------------

ERASED_VOLUNTEER = "erased"
REDACTED_REASON = "redacted: a data-subject erasure removed this reason"


def _affected(status: str) -> int:
    return int(status.split()[-1])


async def subject_sessions(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {SESSION_COLUMNS} FROM kintell_sessions WHERE tenant_id = $1"
        " AND (participant_id = ANY($2::text[]) OR volunteer_id = ANY($2::text[])) ORDER BY started_at, session_id",
        tenant, ids,
    )
    return [_session_out(r) for r in rows]


_SUBJECT_RATINGS = (
    " FROM kintell_ratings r WHERE r.tenant_id = $1 AND (r.rater_id = ANY($2::text[]) OR EXISTS ("
    "SELECT 1 FROM kintell_sessions s WHERE s.tenant_id = r.tenant_id AND s.session_id = r.session_id"
    " AND s.participant_id = ANY($2::text[])))"
)


async def subject_ratings(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT rating_id, session_id, rater_role, rater_id, score, comment, rated_at, origin"
        f"{_SUBJECT_RATINGS} ORDER BY rating_id", tenant, ids,
    )
    return [dict(r) for r in rows]


async def delete_subject_ratings(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> int:
    return _affected(await conn.execute(f"DELETE{_SUBJECT_RATINGS}", tenant, ids))


async def participant_session_ids(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> list[str]:
    return [r["session_id"] for r in await conn.fetch(
        "SELECT session_id FROM kintell_sessions WHERE tenant_id = $1 AND participant_id = ANY($2::text[])", tenant, ids)]


async def delete_participant_sessions(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> list[str]:
    """The participant's sessions go whole (their ratings are deleted first); returns their ids."""
    return [r["session_id"] for r in await conn.fetch(
        "DELETE FROM kintell_sessions WHERE tenant_id = $1 AND participant_id = ANY($2::text[]) RETURNING session_id",
        tenant, ids)]


async def anonymise_volunteer(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> int:
    """A volunteer's sessions are the participants' records too: keep them, drop the volunteer's id."""
    return _affected(await conn.execute(
        "UPDATE kintell_sessions SET volunteer_id = $3, updated_at = now()"
        " WHERE tenant_id = $1 AND volunteer_id = ANY($2::text[])", tenant, ids, ERASED_VOLUNTEER))


_QUOTES_SUBJECT = "EXISTS (SELECT 1 FROM unnest($2::text[]) AS p(id) WHERE strpos(e->>'reason', p.id) > 0)"


async def subject_import_errors(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT i.import_id, i.created_at, e->>'line' AS line, e->>'field' AS field, e->>'reason' AS reason"
        " FROM imports i, jsonb_array_elements(i.errors) AS e"
        f" WHERE i.tenant_id = $1 AND {_QUOTES_SUBJECT} ORDER BY i.created_at, i.import_id",
        tenant, ids,
    )
    return [dict(r) for r in rows]


async def redact_import_errors(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> int:
    """Error reasons can quote a rejected row's values; the counters and line numbers stay."""
    return _affected(await conn.execute(
        "UPDATE imports i SET errors = (SELECT jsonb_agg(CASE WHEN " + _QUOTES_SUBJECT +
        " THEN jsonb_set(e, '{reason}', to_jsonb($3::text)) ELSE e END ORDER BY n)"
        " FROM jsonb_array_elements(i.errors) WITH ORDINALITY AS x(e, n))"
        " WHERE i.tenant_id = $1 AND EXISTS (SELECT 1 FROM jsonb_array_elements(i.errors) AS e"
        f" WHERE {_QUOTES_SUBJECT})", tenant, ids, REDACTED_REASON))
