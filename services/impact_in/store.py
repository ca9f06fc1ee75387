"""SQL for the impact_in schema. Functions take a connection and never commit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from summit_common.sql import Where

DELIVERY_COLUMNS = """id, tenant_id, platform, payload_type, idempotency_key, period, metric_id, event_id, metrics,
    status, attempts, cycle_attempts, replays, next_attempt_at, last_push_at, last_status_code, last_error,
    sent_payload, partner_reference, partner_status, partner_status_at, created_at, updated_at"""


def _row(record) -> dict[str, Any] | None:
    if record is None:
        return None
    row = dict(record)
    for key in ("metrics", "sent_payload", "settings"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


# -- connections ---------------------------------------------------------------------------

async def put_connection(conn, *, tenant: str, platform: str, enabled: bool, settings: dict, secrets: bytes,
                         by: str, now: datetime) -> None:
    await conn.execute(
        """INSERT INTO connections (tenant_id, platform, enabled, settings, secrets, updated_by, updated_at)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
           ON CONFLICT (tenant_id, platform) DO UPDATE SET enabled = EXCLUDED.enabled, settings = EXCLUDED.settings,
               secrets = EXCLUDED.secrets, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at""",
        tenant, platform, enabled, json.dumps(settings), secrets, by, now)


async def get_connection(conn, *, tenant: str, platform: str) -> dict[str, Any] | None:
    return _row(await conn.fetchrow(
        "SELECT tenant_id, platform, enabled, settings, secrets, updated_by, updated_at FROM connections "
        "WHERE tenant_id = $1 AND platform = $2", tenant, platform))


async def list_connections(conn, *, tenant: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT tenant_id, platform, enabled, settings, secrets, updated_by, updated_at "
                            "FROM connections WHERE tenant_id = $1 ORDER BY platform", tenant)
    return [_row(r) for r in rows]


async def delete_connection(conn, *, tenant: str, platform: str) -> bool:
    return await conn.execute("DELETE FROM connections WHERE tenant_id = $1 AND platform = $2",
                              tenant, platform) == "DELETE 1"


async def enabled_platforms(conn, *, tenant: str) -> list[str]:
    rows = await conn.fetch("SELECT platform FROM connections WHERE tenant_id = $1 AND enabled ORDER BY platform", tenant)
    return [r["platform"] for r in rows]


# -- metrics -------------------------------------------------------------------------------

async def keep_latest_metrics(conn, *, tenant: str, period: str, metric_id: str, computed_at: datetime,
                              metrics: dict) -> None:
    """Only a newer computation replaces the kept one (events can arrive out of order)."""
    await conn.execute(
        """INSERT INTO latest_metrics (tenant_id, period, metric_id, computed_at, metrics) VALUES ($1, $2, $3, $4, $5::jsonb)
           ON CONFLICT (tenant_id, period) DO UPDATE SET metric_id = EXCLUDED.metric_id,
               computed_at = EXCLUDED.computed_at, metrics = EXCLUDED.metrics
           WHERE latest_metrics.computed_at < EXCLUDED.computed_at""",
        tenant, period, metric_id, computed_at, json.dumps(metrics))


async def latest_metrics(conn, *, tenant: str, period: str) -> dict[str, Any] | None:
    value = await conn.fetchval("SELECT metrics FROM latest_metrics WHERE tenant_id = $1 AND period = $2", tenant, period)
    return json.loads(value) if isinstance(value, str) else value


async def all_latest_metrics(conn, *, tenant: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT period, metric_id, computed_at, metrics FROM latest_metrics WHERE tenant_id = $1"
                            " ORDER BY computed_at", tenant)
    return [{**dict(r), "metrics": json.loads(r["metrics"]) if isinstance(r["metrics"], str) else r["metrics"]}
            for r in rows]


# -- deliveries ----------------------------------------------------------------------------

async def insert_delivery(conn, *, delivery_id: str, tenant: str, platform: str, payload_type: str, key: str,
                          period: str, metric_id: str, event_id: str, metrics: dict, now: datetime,
                          due: datetime) -> bool:
    """False when a delivery with this idempotency key exists (redelivered or duplicate event)."""
    inserted = await conn.fetchval(
        """INSERT INTO deliveries (id, tenant_id, platform, payload_type, idempotency_key, period, metric_id, event_id,
               metrics, status, next_attempt_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, 'pending', $11, $10, $10)
           ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id""",
        delivery_id, tenant, platform, payload_type, key, period, metric_id, event_id, json.dumps(metrics), now, due)
    return inserted is not None


async def claim_due(conn, *, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
    """Due deliveries, locked so concurrent workers skip them, then leased (hidden until
    lease_until) so the network call can happen outside the transaction. A worker that dies
    mid-push leaves the lease to expire and the delivery is pushed again (same key)."""
    rows = await conn.fetch(
        f"""SELECT {DELIVERY_COLUMNS} FROM deliveries
            WHERE status IN ('pending', 'failed') AND next_attempt_at <= $1
            ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED""", now, limit)
    if rows:
        await conn.execute("UPDATE deliveries SET next_attempt_at = $2 WHERE id = ANY($1::uuid[])",
                           [r["id"] for r in rows], lease_until)
    return [_row(r) for r in rows]


async def release(conn, *, delivery_ids: list, now: datetime) -> None:
    await conn.execute("UPDATE deliveries SET next_attempt_at = $2 WHERE id = ANY($1::uuid[])", delivery_ids, now)


async def add_attempt(conn, *, delivery_id, kind: str, at: datetime, outcome: str, status_code: int | None = None,
                      error: str | None = None, actor: str | None = None) -> None:
    await conn.execute(
        """INSERT INTO delivery_attempts (delivery_id, seq, kind, at, outcome, status_code, error, actor)
           VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM delivery_attempts WHERE delivery_id = $1),
                   $2, $3, $4, $5, $6, $7)""",
        delivery_id, kind, at, outcome, status_code, error, actor)


async def record_push(conn, *, delivery_id, status: str, now: datetime, next_attempt_at: datetime | None,
                      status_code: int | None, error: str | None, payload: dict, reference: str | None) -> None:
    await conn.execute(
        """UPDATE deliveries SET status = $2, attempts = attempts + 1, cycle_attempts = cycle_attempts + 1,
               last_push_at = $3, next_attempt_at = $4, last_status_code = $5, last_error = $6,
               sent_payload = $7::jsonb, partner_reference = coalesce($8, partner_reference), updated_at = $3
           WHERE id = $1""",
        delivery_id, status, now, next_attempt_at, status_code, error, json.dumps(payload), reference)


async def defer(conn, *, delivery_id, until: datetime, reason: str, now: datetime) -> None:
    await conn.execute("UPDATE deliveries SET next_attempt_at = $2, last_error = $3, updated_at = $4 WHERE id = $1",
                       delivery_id, until, reason, now)


async def mark_dead(conn, *, delivery_id, reason: str, now: datetime) -> None:
    await conn.execute("UPDATE deliveries SET status = 'dead', next_attempt_at = NULL, last_error = $2, updated_at = $3 "
                       "WHERE id = $1", delivery_id, reason, now)


async def requeue(conn, *, delivery_id, now: datetime) -> None:
    await conn.execute(
        """UPDATE deliveries SET status = 'pending', cycle_attempts = 0, replays = replays + 1, next_attempt_at = $2,
               updated_at = $2 WHERE id = $1""", delivery_id, now)


async def get_delivery(conn, *, tenant: str, delivery_id: str, lock: bool = False) -> dict[str, Any] | None:
    return _row(await conn.fetchrow(
        f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant_id = $1 AND id = $2::uuid"
        + (" FOR UPDATE" if lock else ""), tenant, delivery_id))


async def delivery_tenant(conn, *, delivery_id: str) -> str | None:
    return await conn.fetchval("SELECT tenant_id FROM deliveries WHERE id = $1::uuid", delivery_id)


async def attempts(conn, *, delivery_id) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT seq, kind, at, outcome, status_code, error, actor FROM delivery_attempts "
                            "WHERE delivery_id = $1 ORDER BY seq", delivery_id)
    return [dict(r) for r in rows]


async def list_deliveries(conn, *, tenant: str, platform: str | None, status: str | None,
                          after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    where = (Where().equal("tenant_id", tenant).equal("platform", platform or None).equal("status", status or None)
             .keyset_below(("created_at", "id"), after))
    rows = await conn.fetch(f"SELECT {DELIVERY_COLUMNS} FROM deliveries {where} "
                            f"ORDER BY created_at DESC, id DESC LIMIT {where.bind(limit)}", *where.args)
    return [_row(r) for r in rows]


async def find_by_key(conn, *, tenant: str, platform: str, key: str, lock: bool = False) -> dict[str, Any] | None:
    return _row(await conn.fetchrow(
        f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant_id = $1 AND platform = $2 AND idempotency_key = $3"
        + (" FOR UPDATE" if lock else ""), tenant, platform, key))


async def set_partner_status(conn, *, delivery_id, status: str, at: datetime) -> None:
    await conn.execute("UPDATE deliveries SET partner_status = $2, partner_status_at = $3, updated_at = $3 WHERE id = $1",
                       delivery_id, status, at)


async def first_webhook(conn, *, tenant: str, platform: str, webhook_id: str, now: datetime) -> bool:
    """True the first time this webhook id is seen (replays of a captured webhook change nothing)."""
    return await conn.fetchval(
        "INSERT INTO webhook_events (tenant_id, platform, webhook_id, received_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING RETURNING true", tenant, platform, webhook_id, now) is True
