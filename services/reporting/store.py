"""SQL for the reporting schema only. Functions take a connection and never commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

# --- evidence ---------------------------------------------------------------------------

COHORT_SQL = """to_char(p.first_observed_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q')"""


async def insert_evidence(conn: asyncpg.Connection, *, tenant: str, evidence_id: str, participant: str, program: str,
                          snippet: str, snippet_sha256: str, dimensions: Sequence[str], source_type: str,
                          source_id: str, observed_at: datetime, event_id: str) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO evidence (tenant_id, evidence_id, participant, program, snippet, snippet_sha256, dimensions,"
        " source_type, source_id, observed_at, event_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        " ON CONFLICT (tenant_id, evidence_id) DO NOTHING RETURNING true",
        tenant, evidence_id, participant, program, snippet, snippet_sha256, list(dimensions), source_type, source_id,
        observed_at, event_id)
    if inserted:
        await conn.execute(
            "INSERT INTO participants (tenant_id, participant, first_observed_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (tenant_id, participant) DO UPDATE"
            " SET first_observed_at = LEAST(participants.first_observed_at, EXCLUDED.first_observed_at)",
            tenant, participant, observed_at)
    return bool(inserted)


async def list_evidence(conn: asyncpg.Connection, *, tenant: str, since: datetime | None, until: datetime | None,
                        program: str | None, dimension: str | None, cohort: str | None,
                        after: tuple[datetime, str] | None, limit: int) -> list[asyncpg.Record]:
    """Newest first, keyset-paged on (observed_at, evidence_id)."""
    return await conn.fetch(
        f"SELECT e.*, {COHORT_SQL} AS cohort FROM evidence e"
        " JOIN participants p ON p.tenant_id = e.tenant_id AND p.participant = e.participant"
        " WHERE e.tenant_id = $1"
        " AND ($2::timestamptz IS NULL OR e.observed_at >= $2) AND ($3::timestamptz IS NULL OR e.observed_at < $3)"
        " AND ($4::text IS NULL OR e.program = $4) AND ($5::text IS NULL OR e.dimensions @> ARRAY[$5::text])"
        f" AND ($6::text IS NULL OR {COHORT_SQL} = $6)"
        " AND ($7::timestamptz IS NULL OR (e.observed_at, e.evidence_id) < ($7, $8::text))"
        " ORDER BY e.observed_at DESC, e.evidence_id DESC LIMIT $9",
        tenant, since, until, program, dimension, cohort, after[0] if after else None, after[1] if after else None, limit)


async def evidence_by_ids(conn: asyncpg.Connection, *, tenant: str, ids: Sequence[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM evidence WHERE tenant_id = $1 AND evidence_id = ANY($2::text[])", tenant, list(ids))
    return {r["evidence_id"]: r for r in rows}


async def evidence_in(conn: asyncpg.Connection, *, tenant: str, start: datetime, end: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT evidence_id, program, snippet, snippet_sha256, dimensions FROM evidence"
        " WHERE tenant_id = $1 AND observed_at >= $2 AND observed_at < $3 ORDER BY evidence_id", tenant, start, end)


# --- metrics ----------------------------------------------------------------------------

_METRIC_COLS = "period, metric_id, sroi_ratio, social_value, investment, vis_score, config_version, computed_at"


async def record_metrics(conn: asyncpg.Connection, *, tenant: str, event_id: str, m: dict[str, Any]) -> bool:
    args = (m["period"], m["metric_id"], m["sroi_ratio"], m["social_value"], m["investment"], m["vis_score"],
            m["config_version"], m["computed_at"])
    fresh = await conn.fetchval(
        f"INSERT INTO metric_history (tenant_id, event_id, {_METRIC_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
        " ON CONFLICT DO NOTHING RETURNING true", tenant, event_id, *args)
    if fresh:
        # Events can arrive out of order: the latest computation wins.
        await conn.execute(
            f"INSERT INTO metric_latest (tenant_id, {_METRIC_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
            " ON CONFLICT (tenant_id, period) DO UPDATE SET metric_id = EXCLUDED.metric_id,"
            " sroi_ratio = EXCLUDED.sroi_ratio, social_value = EXCLUDED.social_value, investment = EXCLUDED.investment,"
            " vis_score = EXCLUDED.vis_score, config_version = EXCLUDED.config_version, computed_at = EXCLUDED.computed_at"
            " WHERE metric_latest.computed_at <= EXCLUDED.computed_at", tenant, *args)
    return bool(fresh)


async def list_metrics(conn: asyncpg.Connection, *, tenant: str, period: str | None, after: str | None,
                       limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT tenant_id, {_METRIC_COLS} FROM metric_latest WHERE tenant_id = $1 AND ($2::text IS NULL OR period = $2)"
        " AND ($3::text IS NULL OR period < $3) ORDER BY period DESC LIMIT $4", tenant, period, after, limit)


async def metric_history(conn: asyncpg.Connection, *, tenant: str, periods: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_METRIC_COLS} FROM metric_history WHERE tenant_id = $1 AND period = ANY($2::text[])"
        " ORDER BY period DESC, computed_at DESC", tenant, list(periods))


async def latest_metrics(conn: asyncpg.Connection, *, tenant: str, period: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_METRIC_COLS} FROM metric_latest WHERE tenant_id = $1 AND period = $2", tenant, period)


# --- generated reports ------------------------------------------------------------------

async def lock_tenant(conn: asyncpg.Connection, tenant: str, purpose: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"reporting:{purpose}:{tenant}")


async def generations_since(conn: asyncpg.Connection, *, tenant: str, since: datetime) -> list[datetime]:
    rows = await conn.fetch("SELECT at FROM generation_log WHERE tenant_id = $1 AND at > $2 ORDER BY at", tenant, since)
    return [r["at"] for r in rows]


async def log_generation(conn: asyncpg.Connection, *, tenant: str, at: datetime) -> None:
    await conn.execute("INSERT INTO generation_log (tenant_id, at) VALUES ($1, $2)", tenant, at)


async def insert_report(conn: asyncpg.Connection, r: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO gen_reports (report_id, tenant_id, period, template, status, sections, charts, cited_evidence,"
        " evidence_hash, metrics, generator, prompt_version, seed, tokens_in, tokens_out, cost, created_by, created_at)"
        " VALUES ($1,$2,$3,$4,'draft',$5::jsonb,$6::jsonb,$7,$8,$9::jsonb,$10,$11,$12,$13,$14,$15,$16,$17)",
        uuid.UUID(r["report_id"]), r["tenant_id"], r["period"], r["template"], json.dumps(r["sections"]),
        json.dumps(r["charts"]), r["cited_evidence"], r["evidence_hash"], json.dumps(r["metrics"], default=str),
        r["generator"], r["prompt_version"], r["seed"], r["tokens_in"], r["tokens_out"], r["cost"], r["created_by"],
        r["created_at"])


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except (ValueError, TypeError):
        return None


async def get_report(conn: asyncpg.Connection, report_id: str) -> asyncpg.Record | None:
    rid = _uuid(report_id)
    return None if rid is None else await conn.fetchrow("SELECT * FROM gen_reports WHERE report_id = $1", rid)


async def list_reports(conn: asyncpg.Connection, *, tenant: str, period: str | None, status: str | None,
                       after: tuple[datetime, str] | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT report_id, tenant_id, period, template, status, evidence_hash, generator, prompt_version, created_by,"
        " created_at, approved_by, approved_at, tokens_in, tokens_out, cost FROM gen_reports WHERE tenant_id = $1"
        " AND ($2::text IS NULL OR period = $2) AND ($3::text IS NULL OR status = $3)"
        " AND ($4::timestamptz IS NULL OR (created_at, report_id) < ($4, $5::uuid))"
        " ORDER BY created_at DESC, report_id DESC LIMIT $6",
        tenant, period, status, after[0] if after else None, after[1] if after else None, limit)


async def approve_report(conn: asyncpg.Connection, *, report_id: str, by: str, at: datetime) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE gen_reports SET status = 'approved', approved_by = $2, approved_at = $3"
        " WHERE report_id = $1 AND status = 'draft' RETURNING *", uuid.UUID(report_id), by, at)


# --- themes -----------------------------------------------------------------------------

async def get_theme(conn: asyncpg.Connection, tenant: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM themes WHERE tenant_id = $1", tenant)


async def put_theme(conn: asyncpg.Connection, *, tenant: str, primary: str, secondary: str, logo: bytes | None,
                    by: str, at: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO themes (tenant_id, primary_color, secondary_color, logo_png, updated_by, updated_at)"
        " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (tenant_id) DO UPDATE SET primary_color = EXCLUDED.primary_color,"
        " secondary_color = EXCLUDED.secondary_color, logo_png = EXCLUDED.logo_png, updated_by = EXCLUDED.updated_by,"
        " updated_at = EXCLUDED.updated_at RETURNING *", tenant, primary, secondary, logo, by, at)


# --- saved views ------------------------------------------------------------------------

async def create_view(conn: asyncpg.Connection, *, tenant: str, owner: str, name: str, filters: dict, visibility: str,
                      at: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO saved_views (view_id, tenant_id, owner, name, filters, visibility, created_at, updated_at)"
        " VALUES ($1,$2,$3,$4,$5::jsonb,$6,$7,$7) RETURNING *", uuid.uuid4(), tenant, owner, name, json.dumps(filters),
        visibility, at)


async def get_view(conn: asyncpg.Connection, view_id: str) -> asyncpg.Record | None:
    vid = _uuid(view_id)
    return None if vid is None else await conn.fetchrow("SELECT * FROM saved_views WHERE view_id = $1", vid)


async def list_views(conn: asyncpg.Connection, *, tenant: str, user: str, after: tuple[datetime, str] | None,
                     limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM saved_views WHERE tenant_id = $1 AND (owner = $2 OR visibility = 'public')"
        " AND ($3::timestamptz IS NULL OR (created_at, view_id) < ($3, $4::uuid))"
        " ORDER BY created_at DESC, view_id DESC LIMIT $5",
        tenant, user, after[0] if after else None, after[1] if after else None, limit)


async def update_view(conn: asyncpg.Connection, *, view_id: str, changes: dict[str, Any], at: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE saved_views SET name = COALESCE($2, name), filters = COALESCE($3::jsonb, filters),"
        " visibility = COALESCE($4, visibility), updated_at = $5 WHERE view_id = $1 RETURNING *",
        uuid.UUID(view_id), changes.get("name"),
        json.dumps(changes["filters"]) if changes.get("filters") is not None else None, changes.get("visibility"), at)


async def delete_view(conn: asyncpg.Connection, view_id: str) -> None:
    await conn.execute("DELETE FROM saved_views WHERE view_id = $1", uuid.UUID(view_id))


# --- share links ------------------------------------------------------------------------

async def create_link(conn: asyncpg.Connection, *, link_id: str, tenant: str, report_id: str, expires_at: datetime,
                      include_sensitive: bool, by: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO share_links (link_id, tenant_id, report_id, expires_at, include_sensitive, created_by, created_at)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7)", uuid.UUID(link_id), tenant, uuid.UUID(report_id), expires_at,
        include_sensitive, by, at)


async def get_link(conn: asyncpg.Connection, link_id: str) -> asyncpg.Record | None:
    lid = _uuid(link_id)
    return None if lid is None else await conn.fetchrow("SELECT * FROM share_links WHERE link_id = $1", lid)


async def revoke_link(conn: asyncpg.Connection, *, link_id: str, at: datetime) -> None:
    await conn.execute("UPDATE share_links SET revoked_at = COALESCE(revoked_at, $2) WHERE link_id = $1", uuid.UUID(link_id), at)


async def log_access(conn: asyncpg.Connection | asyncpg.Pool, *, link_id: str | None, at: datetime, outcome: str,
                     client_hash: str) -> None:
    await conn.execute("INSERT INTO share_link_access (link_id, at, outcome, client_hash) VALUES ($1,$2,$3,$4)",
                       _uuid(link_id) if link_id else None, at, outcome, client_hash)


async def link_accesses(conn: asyncpg.Connection, link_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT at, outcome FROM share_link_access WHERE link_id = $1 ORDER BY id", uuid.UUID(link_id))


# --- schedules --------------------------------------------------------------------------

async def create_schedule(conn: asyncpg.Connection, *, tenant: str, template: str, frequency: str,
                          recipients: list[str], fmt: str, next_run_at: datetime, by: str, at: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO schedules (schedule_id, tenant_id, template, frequency, recipients, format, next_run_at, created_by,"
        " created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING *", uuid.uuid4(), tenant, template, frequency,
        recipients, fmt, next_run_at, by, at)


async def get_schedule(conn: asyncpg.Connection, schedule_id: str) -> asyncpg.Record | None:
    sid = _uuid(schedule_id)
    return None if sid is None else await conn.fetchrow("SELECT * FROM schedules WHERE schedule_id = $1", sid)


async def list_schedules(conn: asyncpg.Connection, *, tenant: str, after: tuple[datetime, str] | None,
                         limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM schedules WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, schedule_id) < ($2, $3::uuid))"
        " ORDER BY created_at DESC, schedule_id DESC LIMIT $4",
        tenant, after[0] if after else None, after[1] if after else None, limit)


async def set_schedule_status(conn: asyncpg.Connection, *, schedule_id: str, status: str,
                              next_run_at: datetime | None = None) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE schedules SET status = $2, next_run_at = COALESCE($3, next_run_at) WHERE schedule_id = $1 RETURNING *",
        uuid.UUID(schedule_id), status, next_run_at)


async def list_runs(conn: asyncpg.Connection, *, schedule_id: str, after: tuple[datetime, str] | None,
                    limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM schedule_runs WHERE schedule_id = $1 AND ($2::timestamptz IS NULL OR (created_at, run_id) < ($2, $3::uuid))"
        " ORDER BY created_at DESC, run_id DESC LIMIT $4",
        uuid.UUID(schedule_id), after[0] if after else None, after[1] if after else None, limit)


async def get_run(conn: asyncpg.Connection, run_id: str) -> asyncpg.Record | None:
    rid = _uuid(run_id)
    return None if rid is None else await conn.fetchrow("SELECT * FROM schedule_runs WHERE run_id = $1", rid)


async def retry_run(conn: asyncpg.Connection, *, run_id: str, at: datetime) -> asyncpg.Record:
    """A manual retry gives the run a fresh set of attempts, due now."""
    return await conn.fetchrow(
        "UPDATE schedule_runs SET status = 'pending', attempts = 0, next_attempt_at = $2, updated_at = $2"
        " WHERE run_id = $1 RETURNING *", uuid.UUID(run_id), at)


async def claim_due_schedules(conn: asyncpg.Connection, *, now: datetime, limit: int = 50) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM schedules WHERE status = 'active' AND next_run_at <= $1 ORDER BY next_run_at"
        " LIMIT $2 FOR UPDATE SKIP LOCKED", now, limit)


async def add_run(conn: asyncpg.Connection, *, schedule_id, tenant: str, period: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO schedule_runs (run_id, schedule_id, tenant_id, period, status, next_attempt_at, created_at, updated_at)"
        " VALUES ($1,$2,$3,$4,'pending',$5,$5,$5) ON CONFLICT (schedule_id, period) DO NOTHING",
        uuid.uuid4(), schedule_id, tenant, period, at)


async def advance_schedule(conn: asyncpg.Connection, *, schedule_id, next_run_at: datetime) -> None:
    await conn.execute("UPDATE schedules SET next_run_at = $2 WHERE schedule_id = $1", schedule_id, next_run_at)


async def claim_runs(conn: asyncpg.Connection, *, now: datetime, lease_until: datetime, limit: int = 20) -> list[asyncpg.Record]:
    """Due pending runs, leased (next_attempt_at pushed out) so another replica skips them meanwhile."""
    return await conn.fetch(
        "UPDATE schedule_runs r SET next_attempt_at = $2 FROM schedules s"
        " WHERE r.run_id IN (SELECT run_id FROM schedule_runs WHERE status = 'pending' AND next_attempt_at <= $1"
        "                    ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
        " AND s.schedule_id = r.schedule_id"
        " RETURNING r.*, s.template, s.recipients, s.format", now, lease_until, limit)


async def finish_run(conn: asyncpg.Connection, *, run_id, status: str, attempts: int, error: str | None,
                     next_attempt_at: datetime | None, report_id: str | None, at: datetime) -> None:
    await conn.execute(
        "UPDATE schedule_runs SET status = $2, attempts = $3, last_error = $4, next_attempt_at = $5,"
        " report_id = COALESCE($6::uuid, report_id), updated_at = $7 WHERE run_id = $1",
        run_id, status, attempts, error, next_attempt_at, _uuid(report_id) if report_id else None, at)
