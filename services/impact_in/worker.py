"""The delivery worker: claims due deliveries, maps them, pushes them through the platform's
connector behind its circuit breaker, and records the attempt. `deliver_due` is one tick
(tests call it directly with an injected clock); `delivery_worker` loops it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import httpx

from services.impact_in import context, store
from services.impact_in.connectors import SENDERS, Connection, DeliveryError
from services.impact_in.domain import mappers, retry
from summit_common.logs import get_logger

log = get_logger(component="impact-in.worker")


async def deliver_due(runtime, now: datetime | None = None) -> Counter:
    """One pass: push every due delivery (up to the batch size). Returns outcome counts."""
    ctx = context.of(runtime)
    s = ctx.settings
    injected = now is not None
    now = now or ctx.clock()
    async with runtime.pool.acquire() as conn, conn.transaction():
        due = await store.claim_due(conn, now=now, lease_until=now + timedelta(seconds=s.lease_seconds),
                                    limit=s.worker_batch)
    outcomes: Counter = Counter()
    if not due:
        return outcomes
    by_platform: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for delivery in due:
        by_platform[delivery["platform"]].append(delivery)
    # Platforms in parallel (a slow partner does not hold up the others); one platform's
    # deliveries in order, so its breaker sees each outcome before the next push.
    budget = max(s.lease_seconds - 2 * s.http_timeout_seconds * s.token_attempts, s.lease_seconds / 2)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=s.http_timeout_seconds) as http:

        async def run(chain: list[dict[str, Any]]) -> None:
            for i, delivery in enumerate(chain):
                if time.monotonic() - started > budget:
                    # Past what the lease covers: hand the rest back rather than risk another
                    # worker claiming them while we still push.
                    async with runtime.pool.acquire() as conn:
                        await store.release(conn, delivery_ids=[d["id"] for d in chain[i:]], now=now)
                    outcomes["released"] += len(chain) - i
                    return
                at = now if injected else ctx.clock()  # a long tick stamps each push with its own time
                outcome = await _deliver_one(runtime, ctx, http, delivery, at)
                outcomes[outcome] += 1
                ctx.pushes.labels(platform=delivery["platform"], outcome=outcome).inc()

        await asyncio.gather(*(run(chain) for chain in by_platform.values()))
    return outcomes


async def _deliver_one(runtime, ctx: context.Context, http: httpx.AsyncClient, d: dict[str, Any], now: datetime) -> str:
    platform, delivery_id = d["platform"], d["id"]
    breaker = ctx.breaker(platform)
    if not breaker.allow(now):
        async with runtime.pool.acquire() as conn:
            await store.defer(conn, delivery_id=delivery_id, until=breaker.retry_at(now), reason="circuit open", now=now)
        return "deferred"
    async with runtime.pool.acquire() as conn:
        row = await store.get_connection(conn, tenant=d["tenant_id"], platform=platform)
    connection, problem = _open_connection(ctx, row)
    if connection is None:
        breaker.release()
        async with runtime.pool.acquire() as conn, conn.transaction():
            await store.mark_dead(conn, delivery_id=delivery_id, reason=problem, now=now)
            await store.add_attempt(conn, delivery_id=delivery_id, kind="push", at=now, outcome="dead", error=problem)
        return "dead"
    key = d["idempotency_key"]
    payload = mappers.map_payload(platform, d["metrics"], connection.settings, key)
    status_code, reference, error = None, None, None
    try:
        try:
            sent = await SENDERS[platform](http, connection, payload, key, ctx)
        except DeliveryError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug or bad settings: visible and replayable, not a loop
            raise DeliveryError(f"internal error: {type(exc).__name__}", retryable=False) from None
        breaker.record_success()
        status, status_code, reference, next_at = "delivered", sent.status_code, sent.reference, None
    except DeliveryError as exc:
        if exc.retryable:
            breaker.record_failure(now)
        else:
            breaker.release()
        cycle = d["cycle_attempts"] + 1
        status_code, error = exc.status_code, exc.message
        if exc.retryable and cycle < ctx.settings.max_attempts:
            delay = retry.backoff_seconds(cycle, base=ctx.settings.backoff_base_seconds,
                                          cap=ctx.settings.backoff_max_seconds, rng=ctx.rng)
            status, next_at = "failed", now + timedelta(seconds=delay)
        else:
            status, next_at = "dead", None
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.record_push(conn, delivery_id=delivery_id, status=status, now=now, next_attempt_at=next_at,
                                status_code=status_code, error=error, payload=payload, reference=reference)
        await store.add_attempt(conn, delivery_id=delivery_id, kind="push", at=now, outcome=status,
                                status_code=status_code, error=error)
    log_fn = log.info if status == "delivered" else log.warning
    log_fn("delivery_pushed", delivery_id=str(delivery_id), tenant=d["tenant_id"], platform=platform, outcome=status,
           status_code=status_code)
    return status


def _open_connection(ctx: context.Context, row: dict[str, Any] | None) -> tuple[Connection | None, str]:
    if row is None or not row["enabled"]:
        return None, "no enabled connection for this platform"
    try:
        secrets = ctx.box.open(row["secrets"], tenant=row["tenant_id"], platform=row["platform"])
    except Exception:  # noqa: BLE001 - wrong key or tampered row: never log the value
        return None, "connection secrets cannot be decrypted (was IMPACT_IN_SECRET_KEY changed?)"
    return Connection(tenant=row["tenant_id"], platform=row["platform"], settings=row["settings"], secrets=secrets), ""


async def delivery_worker(runtime) -> None:
    ctx = context.of(runtime)
    while True:
        try:
            await deliver_due(runtime)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep the loop alive; the next tick retries
            log.error("delivery_tick_failed", error=type(exc).__name__)
        await asyncio.sleep(ctx.settings.worker_interval_seconds)
