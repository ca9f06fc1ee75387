"""SQL for the blast_radius schema only. Functions take a connection and never commit.

Tables: assessments, proposals (see migrations/0001_blast_radius.sql).
jsonb columns travel as JSON text (the chassis pool has no jsonb codec).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.blast_radius.domain import BreakingChange, ProposalDecision
from summit_common.sql import Where

_SUMMARY = ("assessment_id, tenant_id, created_at, created_by, change_kind, label, catalog_fingerprint, digest,"
            " risk_score, ready, affected, proposal_ids, signals, updated_at")


def as_uuid(value: str) -> uuid.UUID | None:
    """None for text that is not a UUID, so a malformed id reads as 'not found'."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _summary(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "assessment_id": str(row["assessment_id"]),
        "tenant": row["tenant_id"],
        "created_at": row["created_at"],
        "created_by": row["created_by"],
        "change_kind": row["change_kind"],
        "label": row["label"],
        "catalog_fingerprint": row["catalog_fingerprint"],
        "digest": row["digest"],
        "risk_score": row["risk_score"],
        "ready": row["ready"],
        "affected_count": len(row["affected"]),
        "proposal_ids": list(row["proposal_ids"]),
        "signals": row["signals"],
        "updated_at": row["updated_at"],
    }


async def insert_assessment(
    conn: asyncpg.Connection, *, assessment_id: str, tenant: str, created_by: str, change_kind: str, label: str | None,
    fingerprint: str, bundle: Any, report: dict[str, Any], digest: str, risk: float, breaking: Sequence[BreakingChange],
    proposal_ids: Sequence[str], affected: Sequence[str], threshold: float, readiness: dict[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO assessments (assessment_id, tenant_id, created_by, change_kind, label, catalog_fingerprint, bundle,"
        " report, digest, risk_score, breaking, proposal_ids, affected, threshold, ready, readiness)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11::jsonb, $12, $13, $14, $15, $16::jsonb)",
        uuid.UUID(assessment_id), tenant, created_by, change_kind, label, fingerprint, json.dumps(bundle),
        json.dumps(report, default=str), digest, risk,
        json.dumps([{"index": b.index, "contract": b.contract, "proposal_id": b.proposal_id} for b in breaking]),
        list(proposal_ids), list(affected), threshold, readiness["ready"], json.dumps(readiness, default=str),
    )


async def get_assessment(conn: asyncpg.Connection, assessment_id: str) -> dict[str, Any] | None:
    """Any tenant's assessment (the caller checks the tenant, so a cross-tenant probe is audited)."""
    key = as_uuid(assessment_id)
    if key is None:
        return None
    row = await conn.fetchrow(f"SELECT {_SUMMARY}, bundle, report, readiness, threshold FROM assessments WHERE assessment_id = $1", key)
    if row is None:
        return None
    return {
        **_summary(row),
        "threshold": row["threshold"],
        "bundle": json.loads(row["bundle"]),
        "report": json.loads(row["report"]),
        "readiness": json.loads(row["readiness"]),
    }


async def list_assessments(
    conn: asyncpg.Connection, *, tenant: str, limit: int, before: str | None = None, ready: bool | None = None,
    kind: str | None = None, affects: str | None = None,
) -> list[dict[str, Any]]:
    """One page of a tenant's assessments, newest first (keyset on the UUIDv7 id)."""
    where = (Where().equal("tenant_id", tenant).below("assessment_id", uuid.UUID(before) if before else None)
             .equal("ready", ready).condition("{} = ANY(string_to_array(change_kind, '+'))", kind)
             .condition("{} = ANY(affected)", affects))
    rows = await conn.fetch(
        f"SELECT {_SUMMARY} FROM assessments {where} ORDER BY assessment_id DESC LIMIT {where.bind(limit)}", *where.args
    )
    return [_summary(row) for row in rows]


async def stats(conn: asyncpg.Connection, *, tenant: str, since: datetime | None, top: int) -> dict[str, Any]:
    """Counts of a tenant's assessments and the nodes most often affected (the dashboard's data)."""
    since_clause = "AND created_at >= $2" if since is not None else ""
    args: list[Any] = [tenant] + ([since] if since is not None else [])
    totals = await conn.fetchrow(
        f"SELECT count(*) AS total, count(*) FILTER (WHERE ready) AS ready, coalesce(avg(risk_score), 0) AS mean_risk"
        f" FROM assessments WHERE tenant_id = $1 {since_clause}", *args)
    kinds = await conn.fetch(
        f"SELECT change_kind, count(*) AS n FROM assessments WHERE tenant_id = $1 {since_clause}"
        " GROUP BY change_kind ORDER BY change_kind", *args)
    affected = await conn.fetch(
        f"SELECT node, count(*) AS n FROM assessments, unnest(affected) AS node WHERE tenant_id = $1 {since_clause}"
        f" GROUP BY node ORDER BY n DESC, node LIMIT {int(top)}", *args)
    return {
        "assessments": totals["total"],
        "ready": totals["ready"],
        "not_ready": totals["total"] - totals["ready"],
        "mean_risk": round(float(totals["mean_risk"]), 4),
        "by_kind": {row["change_kind"]: row["n"] for row in kinds},
        "top_affected": [{"node": row["node"], "assessments": row["n"]} for row in affected],
    }


# --- proposals ----------------------------------------------------------------------------------


def _decision(row: asyncpg.Record) -> ProposalDecision:
    return ProposalDecision(
        proposal_id=row["proposal_id"], contract=row["contract"], decision=row["decision"], breaking=row["breaking"],
        decided_by=row["decided_by"], decided_at=row["decided_at"].isoformat(),
    )


async def upsert_proposal(
    conn: asyncpg.Connection, *, tenant: str, proposal_id: str, kind: str, contract: str, decision: str, breaking: bool,
    decided_by: str, decided_at: datetime, event_id: str,
) -> bool:
    """Store a decision unless a later (or the same) one is stored. True when it was stored."""
    stored = await conn.fetchval(
        "INSERT INTO proposals (tenant_id, proposal_id, kind, contract, decision, breaking, decided_by, decided_at, event_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (tenant_id, proposal_id) DO UPDATE SET kind = EXCLUDED.kind, contract = EXCLUDED.contract,"
        " decision = EXCLUDED.decision, breaking = EXCLUDED.breaking, decided_by = EXCLUDED.decided_by,"
        " decided_at = EXCLUDED.decided_at, event_id = EXCLUDED.event_id, received_at = now()"
        " WHERE proposals.decided_at < EXCLUDED.decided_at RETURNING true",
        tenant, proposal_id, kind, contract, decision, breaking, decided_by, decided_at, event_id,
    )
    return bool(stored)


async def decisions(conn: asyncpg.Connection, *, tenant: str, proposal_ids: Sequence[str]) -> dict[str, ProposalDecision]:
    if not proposal_ids:
        return {}
    rows = await conn.fetch(
        "SELECT proposal_id, contract, decision, breaking, decided_by, decided_at FROM proposals"
        " WHERE tenant_id = $1 AND proposal_id = ANY($2::text[])", tenant, list(proposal_ids))
    return {row["proposal_id"]: _decision(row) for row in rows}


async def lock_assessments_naming(conn: asyncpg.Connection, *, tenant: str, proposal_id: str, limit: int) -> list[dict[str, Any]]:
    """The tenant's most recent assessments that name a proposal, locked until commit."""
    rows = await conn.fetch(
        "SELECT assessment_id, change_kind, risk_score, threshold, breaking, proposal_ids, affected, ready, readiness"
        " FROM assessments WHERE tenant_id = $1 AND proposal_ids @> ARRAY[$2]::text[]"
        " ORDER BY assessment_id DESC LIMIT $3 FOR UPDATE",
        tenant, proposal_id, limit,
    )
    return [
        {
            "assessment_id": str(row["assessment_id"]),
            "change_kind": row["change_kind"],
            "risk_score": row["risk_score"],
            "threshold": row["threshold"],
            "breaking": [BreakingChange(**b) for b in json.loads(row["breaking"])],
            "proposal_ids": list(row["proposal_ids"]),
            "affected": list(row["affected"]),
            "ready": row["ready"],
            "readiness": json.loads(row["readiness"]),
        }
        for row in rows
    ]


async def update_readiness(conn: asyncpg.Connection, *, assessment_id: str, readiness: dict[str, Any], signalled: bool) -> None:
    await conn.execute(
        "UPDATE assessments SET ready = $2, readiness = $3::jsonb, signals = signals + $4, updated_at = now()"
        " WHERE assessment_id = $1",
        uuid.UUID(assessment_id), readiness["ready"], json.dumps(readiness, default=str), 1 if signalled else 0,
    )
