"""SQL for the upskilling_connector schema only (tables: completions, credentials, progress, imports).

Functions take a connection and keyword arguments and never commit: writes run inside the
caller's unit of work. Bulk writes use unnest() so an import is a handful of statements,
whatever its size. Every query is scoped by tenant, except the *_owner lookups used only to
audit cross-tenant probes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.upskilling_connector.domain import Completion, Credential, Progress, StoredProgress
from summit_common.sql import Where


async def lock_tenant(conn: asyncpg.Connection, *, tenant: str) -> None:
    """Serialise imports of one tenant (replicas included) so progress plans against stable state."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"upskilling-connector:{tenant}")


# --- writes -----------------------------------------------------------------------------------


async def insert_completions(conn: asyncpg.Connection, *, tenant: str, records: Sequence[Completion],
                             import_id: str) -> set[str]:
    """Insert completions not stored yet (the first one stored wins); returns the ids inserted now."""
    if not records:
        return set()
    rows = await conn.fetch(
        "INSERT INTO completions (tenant_id, import_id, completion_id, provider, participant_id, course_id,"
        " course_name, category, completed_at, score, credits, certificate_id)"
        " SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],"
        " $9::timestamptz[], $10::float8[], $11::float8[], $12::text[]) AS u"
        " ON CONFLICT (tenant_id, completion_id) DO NOTHING RETURNING completion_id",
        tenant, import_id,
        [r.completion_id for r in records], [r.provider for r in records], [r.participant_id for r in records],
        [r.course_id for r in records], [r.course_name for r in records], [r.category for r in records],
        [r.completed_at for r in records], [r.score for r in records], [r.credits for r in records],
        [r.certificate_id for r in records],
    )
    return {r["completion_id"] for r in rows}


async def insert_credentials(conn: asyncpg.Connection, *, tenant: str, records: Sequence[Credential],
                             import_id: str) -> set[str]:
    """Insert credentials not stored yet (the first one stored wins); returns the ids inserted now."""
    if not records:
        return set()
    rows = await conn.fetch(
        "INSERT INTO credentials (tenant_id, import_id, credential_id, provider, participant_id, name, issued_at,"
        " expires_at, url, credits)"
        " SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],"
        " $8::timestamptz[], $9::text[], $10::float8[]) AS u"
        " ON CONFLICT (tenant_id, credential_id) DO NOTHING RETURNING credential_id",
        tenant, import_id,
        [r.credential_id for r in records], [r.provider for r in records], [r.participant_id for r in records],
        [r.name for r in records], [r.issued_at for r in records], [r.expires_at for r in records],
        [r.url for r in records], [r.credits for r in records],
    )
    return {r["credential_id"] for r in rows}


async def progress_state(conn: asyncpg.Connection, *, tenant: str, progress_ids: Sequence[str]) -> dict[str, StoredProgress]:
    if not progress_ids:
        return {}
    rows = await conn.fetch(
        "SELECT progress_id, percent_complete, updated_at FROM progress"
        " WHERE tenant_id = $1 AND progress_id = ANY($2::text[])",
        tenant, list(set(progress_ids)),
    )
    return {r["progress_id"]: StoredProgress(r["percent_complete"], r["updated_at"]) for r in rows}


async def upsert_progress(conn: asyncpg.Connection, *, tenant: str, records: Sequence[Progress], import_id: str) -> None:
    """Store the final progress per id (one record per id; the caller planned it under the tenant lock)."""
    if not records:
        return
    await conn.execute(
        "INSERT INTO progress (tenant_id, import_id, progress_id, provider, participant_id, course_id, course_name,"
        " percent_complete, updated_at)"
        " SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[],"
        " $9::timestamptz[]) AS u"
        " ON CONFLICT (tenant_id, progress_id) DO UPDATE SET percent_complete = excluded.percent_complete,"
        " updated_at = excluded.updated_at, course_name = excluded.course_name, import_id = excluded.import_id,"
        " stored_at = now()",
        tenant, import_id,
        [r.progress_id for r in records], [r.provider for r in records], [r.participant_id for r in records],
        [r.course_id for r in records], [r.course_name for r in records], [r.percent_complete for r in records],
        [r.updated_at for r in records],
    )


async def insert_import(conn: asyncpg.Connection, *, tenant: str, report: dict[str, Any], content_sha256: str,
                        imported_by: str) -> None:
    await conn.execute(
        "INSERT INTO imports (import_id, tenant_id, kind, provider, format, filename, content_sha256, rows_total,"
        " accepted, duplicates, skipped, rejected, errors, skipped_rows, emitted, notices, ignored_columns,"
        " imported_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14::jsonb, $15::jsonb, $16::jsonb,"
        " $17::jsonb, $18, $19)",
        report["import_id"], tenant, report["kind"], report["provider"], report["format"], report["filename"],
        content_sha256, report["rows_total"], report["accepted"], report["duplicates"], report["skipped"],
        report["rejected"], json.dumps(report["errors"]), json.dumps(report["skipped_rows"]),
        json.dumps(report["emitted"]), json.dumps(report["notices"]), json.dumps(report["ignored_columns"]),
        imported_by, datetime.fromisoformat(report["created_at"]),
    )


# --- reads ------------------------------------------------------------------------------------

# What GET /v1/imports/{id} returns (summit_common.imports.get_import_report reads them).
IMPORT_REPORT_COLUMNS = ("import_id", "kind", "provider", "format", "filename", "rows_total", "accepted", "duplicates",
                         "skipped", "rejected", "errors", "skipped_rows", "emitted", "notices", "ignored_columns",
                         "imported_by", "created_at")


def _ref(row: asyncpg.Record) -> dict[str, str]:
    return {"system": row["provider"], "id": row["participant_id"]}


def _completion_out(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "completion_id": row["completion_id"],
        "participant": _ref(row),
        "provider": row["provider"],
        "course_id": row["course_id"],
        "course_name": row["course_name"],
        "category": row["category"],
        "completed_at": row["completed_at"].isoformat(),
        "score": row["score"],
        "credits": row["credits"],
        "certificate_id": row["certificate_id"],
        "import_id": row["import_id"],
        "created_at": row["created_at"].isoformat(),
    }


def _credential_out(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "credential_id": row["credential_id"],
        "participant": _ref(row),
        "provider": row["provider"],
        "name": row["name"],
        "issued_at": row["issued_at"].isoformat(),
        "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
        "url": row["url"],
        "credits": row["credits"],
        "import_id": row["import_id"],
        "created_at": row["created_at"].isoformat(),
    }


def _progress_out(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "progress_id": row["progress_id"],
        "participant": _ref(row),
        "provider": row["provider"],
        "course_id": row["course_id"],
        "course_name": row["course_name"],
        "percent_complete": row["percent_complete"],
        "updated_at": row["updated_at"].isoformat(),
        "import_id": row["import_id"],
        "stored_at": row["stored_at"].isoformat(),
    }


# table -> (id column, time column, row formatter)
_LISTS = {
    "completions": ("completion_id", "completed_at", _completion_out),
    "credentials": ("credential_id", "issued_at", _credential_out),
    "progress": ("progress_id", "updated_at", _progress_out),
}


async def _list(
    conn: asyncpg.Connection, table: str, *, tenant: str, filters: dict[str, Any], time_from: datetime | None,
    time_to: datetime | None, after: tuple[datetime, str] | None, limit: int,
) -> list[dict[str, Any]]:
    """Newest first; `after` is the (time, id) of the last row of the previous page."""
    id_column, time_column, out = _LISTS[table]
    where = Where().equal("tenant_id", tenant)
    for column, value in filters.items():
        where.equal(column, value)
    where.at_least(time_column, time_from).below(time_column, time_to).keyset_below((time_column, id_column), after)
    rows = await conn.fetch(
        f"SELECT * FROM {table} {where} ORDER BY {time_column} DESC, {id_column} DESC LIMIT {where.bind(limit)}",
        *where.args,
    )
    return [out(r) for r in rows]


async def list_completions(
    conn: asyncpg.Connection, *, tenant: str, participant: str | None, provider: str | None, category: str | None,
    course: str | None, time_from: datetime | None, time_to: datetime | None, after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    return await _list(conn, "completions", tenant=tenant, time_from=time_from, time_to=time_to, after=after,
                       limit=limit, filters={"participant_id": participant, "provider": provider,
                                             "category": category, "course_id": course})


async def list_credentials(
    conn: asyncpg.Connection, *, tenant: str, participant: str | None, provider: str | None,
    time_from: datetime | None, time_to: datetime | None, after: tuple[datetime, str] | None, limit: int,
) -> list[dict[str, Any]]:
    return await _list(conn, "credentials", tenant=tenant, time_from=time_from, time_to=time_to, after=after,
                       limit=limit, filters={"participant_id": participant, "provider": provider})


async def list_progress(
    conn: asyncpg.Connection, *, tenant: str, participant: str | None, provider: str | None, course: str | None,
    after: tuple[datetime, str] | None, limit: int,
) -> list[dict[str, Any]]:
    return await _list(conn, "progress", tenant=tenant, time_from=None, time_to=None, after=after, limit=limit,
                       filters={"participant_id": participant, "provider": provider, "course_id": course})


async def get_completion(conn: asyncpg.Connection, *, tenant: str, completion_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM completions WHERE tenant_id = $1 AND completion_id = $2",
                              tenant, completion_id)
    return _completion_out(row) if row else None


async def completion_owner(conn: asyncpg.Connection, *, completion_id: str) -> str | None:
    """Some tenant that holds this id (ids are unique per tenant only); for auditing."""
    return await conn.fetchval("SELECT tenant_id FROM completions WHERE completion_id = $1 LIMIT 1", completion_id)


async def get_credential(conn: asyncpg.Connection, *, tenant: str, credential_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM credentials WHERE tenant_id = $1 AND credential_id = $2",
                              tenant, credential_id)
    return _credential_out(row) if row else None


async def credential_owner(conn: asyncpg.Connection, *, credential_id: str) -> str | None:
    return await conn.fetchval("SELECT tenant_id FROM credentials WHERE credential_id = $1 LIMIT 1", credential_id)


# --- data-subject requests (privacy.py) -----------------------------------------------------

LEARNER_TABLES = ("completions", "credentials", "progress")
REDACTED = "redacted: a data-subject erasure removed this reason"
_LEARNER = "(provider, participant_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))"


async def subject_rows(conn: asyncpg.Connection, *, tenant: str, table: str, refs: tuple[list[str], list[str]]
                       ) -> list[dict[str, Any]]:
    id_column, time_column, out = _LISTS[table]
    rows = await conn.fetch(f"SELECT * FROM {table} WHERE tenant_id = $1 AND {_LEARNER} ORDER BY {time_column}, {id_column}",
                            tenant, *refs)
    return [out(r) for r in rows]


async def delete_subject_rows(conn: asyncpg.Connection, *, tenant: str, table: str,
                              refs: tuple[list[str], list[str]]) -> int:
    status = await conn.execute(f"DELETE FROM {table} WHERE tenant_id = $1 AND {_LEARNER}", tenant, *refs)
    return int(status.split()[-1])


# A report line names the learner when its reason quotes their id in an import from their provider.
_QUOTES = ("EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS p(system, id)"
           " WHERE p.system = i.provider AND strpos(lower(e->>'reason'), lower(p.id)) > 0)")
_REPORT_LISTS = ("errors", "skipped_rows")


async def import_lines_quoting(conn: asyncpg.Connection, *, tenant: str, refs: tuple[list[str], list[str]]
                               ) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        " UNION ALL ".join(
            f"SELECT i.import_id, '{part}' AS part, e FROM imports i, jsonb_array_elements(i.{part}) e"
            f" WHERE i.tenant_id = $1 AND {_QUOTES}" for part in _REPORT_LISTS) + " ORDER BY 1, 2",
        tenant, *refs,
    )
    return [{"import_id": r["import_id"], "part": r["part"], **json.loads(r["e"])} for r in rows]


async def redact_import_lines(conn: asyncpg.Connection, *, tenant: str, refs: tuple[list[str], list[str]]) -> int:
    """Redacts reasons quoting the learner's id; counters and line numbers stay. Returns reports changed."""
    sets = ", ".join(
        f"{part} = (SELECT coalesce(jsonb_agg(CASE WHEN {_QUOTES} THEN jsonb_set(e, '{{reason}}', to_jsonb($4::text))"
        f" ELSE e END ORDER BY n), '[]'::jsonb) FROM jsonb_array_elements(i.{part}) WITH ORDINALITY AS x(e, n))"
        for part in _REPORT_LISTS)
    quoted = " OR ".join(f"EXISTS (SELECT 1 FROM jsonb_array_elements(i.{part}) e WHERE {_QUOTES})" for part in _REPORT_LISTS)
    status = await conn.execute(f"UPDATE imports i SET {sets} WHERE i.tenant_id = $1 AND ({quoted})", tenant, *refs, REDACTED)
    return int(status.split()[-1])
