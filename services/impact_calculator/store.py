"""SQL for the impact_calculator schema. Keyword-only functions on a connection; they never commit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from services.impact_calculator import domain


def _column(period: str) -> str:
    """The facts column a period filters on (a fixed name, never user text)."""
    return "quarter" if domain.is_quarter(period) else "month"


async def lock_company_periods(conn: asyncpg.Connection, *, company: str, periods: list[str]) -> None:
    """Serialise writers of one company-period until commit (callers pass quarter before month,
    see handlers.lock_order), so a recompute always sees the facts of transactions that committed first."""
    for period in periods:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('impact:' || $1 || ':' || $2))", company, period)


async def record_fact(conn: asyncpg.Connection, *, company: str, fact_key: str, event_id: str, event_type: str, kind: str,
                      occurred_at: datetime, label: str | None = None, value: float | None = None,
                      participant: str | None = None, volunteer: str | None = None, session_id: str | None = None,
                      evidence_ids: list[str] | None = None) -> bool:
    """True when the fact is new; False when this business fact was already recorded."""
    quarter, month = domain.periods_of(occurred_at)
    row = await conn.fetchrow(
        "INSERT INTO facts (company_id, fact_key, event_id, event_type, kind, quarter, month, occurred_at, label, value,"
        " participant, volunteer, session_id, evidence_ids)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        " ON CONFLICT (company_id, fact_key) DO NOTHING RETURNING 1",
        company, fact_key, event_id, event_type, kind, quarter, month, occurred_at, label, value,
        participant, volunteer, session_id, evidence_ids or [],
    )
    return row is not None


async def outcome_counts(conn: asyncpg.Connection, *, company: str, period: str, threshold: float) -> dict[str, int]:
    """The SQL aggregate path: counts per (kind, label, passed threshold), mapped to outcome keys."""
    rows = await conn.fetch(
        f"SELECT kind, label, (value >= $3) AS passed, count(*) AS n FROM facts"
        f" WHERE company_id = $1 AND {_column(period)} = $2 AND kind = ANY($4::text[]) GROUP BY 1, 2, 3",
        company, period, threshold, list(domain.OUTCOME_KINDS),
    )
    counts: dict[str, int] = {}
    for r in rows:
        key = domain.outcome_key(r["kind"], r["label"], threshold if r["passed"] else None, threshold)
        if key is not None:
            counts[key] = counts.get(key, 0) + r["n"]
    return counts


async def volunteer_stats(conn: asyncpg.Connection, *, company: str, period: str) -> list[domain.VolunteerStats]:
    """Per volunteer, for sessions in the period: minutes, distinct ISO weeks, mean participant
    rating (ratings in the period of any of their sessions) and mean q2q score (in the period)
    of the participants they served in the period."""
    col = _column(period)
    rows = await conn.fetch(
        f"""
        WITH s AS (
            SELECT volunteer, participant, session_id, value AS minutes, occurred_at
            FROM facts WHERE company_id = $1 AND {col} = $2 AND kind = 'session'
        ), per AS (
            SELECT volunteer, sum(minutes) AS minutes,
                   count(DISTINCT to_char(occurred_at AT TIME ZONE 'UTC', 'IYYY-IW')) AS weeks
            FROM s GROUP BY volunteer
        ), rated AS (
            SELECT ss.volunteer, avg(r.value) AS rating
            FROM facts r JOIN facts ss ON ss.company_id = r.company_id AND ss.kind = 'session' AND ss.session_id = r.session_id
            WHERE r.company_id = $1 AND r.{col} = $2 AND r.kind = 'rating'
              AND ss.volunteer IN (SELECT volunteer FROM per)
            GROUP BY ss.volunteer
        ), served AS (SELECT DISTINCT volunteer, participant FROM s),
        outcome AS (
            SELECT sv.volunteer, avg(q.value) AS outcome
            FROM served sv JOIN facts q ON q.company_id = $1 AND q.{col} = $2 AND q.kind = 'score' AND q.participant = sv.participant
            GROUP BY sv.volunteer
        )
        SELECT per.volunteer, per.minutes, per.weeks, rated.rating, outcome.outcome
        FROM per LEFT JOIN rated USING (volunteer) LEFT JOIN outcome USING (volunteer)
        ORDER BY per.volunteer
        """,
        company, period,
    )
    return [domain.VolunteerStats(volunteer=r["volunteer"], minutes=float(r["minutes"] or 0), active_weeks=r["weeks"],
                                  rating_avg=None if r["rating"] is None else float(r["rating"]),
                                  outcome_avg=None if r["outcome"] is None else float(r["outcome"])) for r in rows]


async def get_investment(conn: asyncpg.Connection, *, company: str, period: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT amount, currency, updated_by, updated_at FROM investments"
                               " WHERE company_id = $1 AND period = $2", company, period)


async def put_investment(conn: asyncpg.Connection, *, company: str, period: str, amount: float, currency: str, by: str) -> None:
    await conn.execute(
        "INSERT INTO investments (company_id, period, amount, currency, updated_by) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (company_id, period) DO UPDATE SET amount = excluded.amount, currency = excluded.currency,"
        " updated_by = excluded.updated_by, updated_at = now()",
        company, period, amount, currency, by,
    )


def _metric(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    out["metric_id"] = str(out["metric_id"])
    out["detail"] = json.loads(out["detail"]) if isinstance(out.get("detail"), str) else out.get("detail")
    return out


_METRIC_COLS = ("company_id, period, metric_id, revision, social_value, investment, currency, sroi_ratio, vis_score,"
                " config_version, detail, computed_at")


async def get_metrics(conn: asyncpg.Connection, *, company: str, period: str) -> dict[str, Any] | None:
    return _metric(await conn.fetchrow(f"SELECT {_METRIC_COLS} FROM metrics WHERE company_id = $1 AND period = $2",
                                       company, period))


async def get_metrics_by_id(conn: asyncpg.Connection, *, metric_id: str) -> dict[str, Any] | None:
    """By id, any tenant: the caller checks visibility (and audits a cross-tenant probe)."""
    return _metric(await conn.fetchrow(f"SELECT {_METRIC_COLS} FROM metrics WHERE metric_id = $1", metric_id))


async def company_known(conn: asyncpg.Connection, *, company: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM metrics WHERE company_id = $1)", company))


async def save_metrics(conn: asyncpg.Connection, *, company: str, period: str, metric_id: str, figures: dict[str, Any],
                       currency: str, config_version: str, detail: dict[str, Any], computed_at: datetime) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"INSERT INTO metrics (company_id, period, metric_id, social_value, investment, currency, sroi_ratio, vis_score,"
        f" config_version, detail, computed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)"
        f" ON CONFLICT (company_id, period) DO UPDATE SET revision = metrics.revision + 1,"
        f" social_value = excluded.social_value, investment = excluded.investment, currency = excluded.currency,"
        f" sroi_ratio = excluded.sroi_ratio, vis_score = excluded.vis_score, config_version = excluded.config_version,"
        f" detail = excluded.detail, computed_at = excluded.computed_at RETURNING {_METRIC_COLS}",
        company, period, metric_id, figures["social_value"], figures["investment"], currency, figures["sroi_ratio"],
        figures["vis_score"], config_version, json.dumps(detail), computed_at,
    )
    return _metric(row)


async def contributing_facts(conn: asyncpg.Connection, *, company: str, period: str, limit: int,
                             after: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT fact_key, event_id, event_type, kind, label, value, occurred_at, evidence_ids FROM facts"
        f" WHERE company_id = $1 AND {_column(period)} = $2 AND ($3::text IS NULL OR fact_key > $3)"
        f" ORDER BY fact_key LIMIT $4",
        company, period, after, limit,
    )


async def evidence_ids(conn: asyncpg.Connection, *, company: str, period: str) -> list[str]:
    return await conn.fetchval(
        f"SELECT coalesce(array_agg(DISTINCT e ORDER BY e), '{{}}') FROM facts, unnest(evidence_ids) AS e"
        f" WHERE company_id = $1 AND {_column(period)} = $2 AND kind = 'score'",
        company, period,
    )


async def count_facts(conn: asyncpg.Connection, *, company: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM facts WHERE company_id = $1", company)


# --- personal data (DSAR) ------------------------------------------------------------------


async def facts_of_people(conn: asyncpg.Connection, *, company: str, refs: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT fact_key, kind, occurred_at, label, value, participant, volunteer, session_id, event_id"
        " FROM facts WHERE company_id = $1 AND (participant = ANY($2::text[]) OR volunteer = ANY($2::text[]))"
        " ORDER BY occurred_at, fact_key", company, refs)


async def pseudonymise_people(conn: asyncpg.Connection, *, company: str, aliases: dict[str, str]) -> int:
    """Replace each ref by its alias in facts and in stored VIS detail; returns the facts changed.
    The figures stay as they were: every fact still counts, each volunteer stays one volunteer."""
    refs, alias_of = list(aliases), list(aliases.values())
    status = await conn.execute(
        "WITH a AS (SELECT * FROM unnest($2::text[], $3::text[]) AS a(ref, alias))"
        " UPDATE facts f SET participant = COALESCE((SELECT alias FROM a WHERE ref = f.participant), f.participant),"
        " volunteer = COALESCE((SELECT alias FROM a WHERE ref = f.volunteer), f.volunteer)"
        " WHERE f.company_id = $1 AND (f.participant = ANY($2::text[]) OR f.volunteer = ANY($2::text[]))",
        company, refs, alias_of)
    rows = await conn.fetch("SELECT period, detail FROM metrics WHERE company_id = $1 FOR UPDATE", company)
    for row in rows:
        detail = json.loads(row["detail"]) if isinstance(row["detail"], str) else row["detail"]
        volunteers = detail.get("vis_volunteers") or []
        if any(v.get("volunteer") in aliases for v in volunteers):
            detail["vis_volunteers"] = [v | {"volunteer": aliases.get(v.get("volunteer"), v.get("volunteer"))} for v in volunteers]
            await conn.execute("UPDATE metrics SET detail = $3 WHERE company_id = $1 AND period = $2",
                               company, row["period"], json.dumps(detail))
    return int(status.split()[-1])
