"""The worker: a tick that fans out due deletions, retries late or failed holders, and
purges expired bundles. `run_due(runtime, now)` is one tick (tests call it directly)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from services.privacy_orchestrator import config, domain, jobs, store
from summit_common.logs import get_logger

log = get_logger(component="privacy-orchestrator")
BATCH = 100


async def run_due(runtime, now: datetime) -> dict[str, int]:
    """One tick. Each request is locked (SKIP LOCKED, so replicas share the work) and
    re-checked in its own transaction; a failure on one request does not stop the others."""
    done = {"fanned_out": 0, "holders_retried_or_failed": 0, "expired": 0}
    async with runtime.pool.acquire() as conn:
        due = await store.due_deletions(conn, now, BATCH)
        active = await store.active_with_open_holders(conn, BATCH)
        expired = await store.expired_bundles(conn, now, BATCH)
    for row in due:
        async with runtime.unit_of_work(tenant=row["tenant_id"]) as uow:
            request = await store.get_request(uow.conn, row["request_id"], domain.DELETION, skip_locked=True)
            if request and domain.deletion_due(request["status"], request["execute_after"], now):
                await jobs.fan_out_deletion(uow, request, now)
                done["fanned_out"] += 1
    for row in active:
        async with runtime.unit_of_work(tenant=row["tenant_id"]) as uow:
            request = await store.get_request(uow.conn, row["request_id"], row["kind"], skip_locked=True)
            if request and request["status"] == domain.ACTIVE[request["kind"]]:
                done["holders_retried_or_failed"] += await jobs.retry_open_holders(uow, request, now)
    for row in expired:
        async with runtime.unit_of_work(tenant=row["tenant_id"]) as uow:
            request = await store.get_request(uow.conn, row["request_id"], domain.EXPORT, skip_locked=True)
            if request and domain.bundle_state(request["status"], request["expires_at"], now) == "expired" \
                    and request["status"] == domain.COMPLETE:
                await jobs.expire_bundle(uow, request, now)
                done["expired"] += 1
    return done


async def ticker(runtime) -> None:
    """Service worker: run_due every PRIVACY_TICK_SECONDS, surviving errors."""
    settings = config.current()
    if settings.uses_dev_key:
        log.warning("privacy_dev_master_key", detail="PRIVACY_MASTER_KEY is the dev default; set it outside dev")
    try:
        config.expected_holders()  # resolve the holders once at startup, not on the first request
    except Exception as exc:  # noqa: BLE001  a broken service module must not stop retries and purges
        log.error("privacy_holder_discovery_failed", error=type(exc).__name__)
    while True:
        try:
            done = await run_due(runtime, config.clock.now())
            if any(done.values()):
                log.info("privacy_tick", **done)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  next tick tries again
            log.error("privacy_tick_failed", error=type(exc).__name__)
        await asyncio.sleep(config.current().tick_seconds)
