"""Recompute one company-period inside a unit of work: read the aggregates, run the pure
calculation, store the result, invalidate the read cache, and emit impact.metrics.updated.v1
when a published figure (or the config version) changed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from services.impact_calculator import cache, domain, store
from summit_common import UnitOfWork
from summit_contracts.ids import new_id

METRICS_UPDATED = "impact.metrics.updated.v1"
DEFAULT_CONFIG = Path(__file__).parent / "impact_config.yaml"


@lru_cache(maxsize=4)
def _load(path: str) -> domain.Config:
    return domain.load_config(Path(path))


def config() -> domain.Config:
    return _load(os.environ.get("IMPACT_CONFIG_PATH", str(DEFAULT_CONFIG)))


def _new_metric_id() -> str:
    return new_id()  # UUIDv7, kept for the life of the company-period row


async def recompute(uow: UnitOfWork, *, company: str, period: str) -> dict[str, Any]:
    cfg = config()
    conn = uow.conn
    counts = await store.outcome_counts(conn, company=company, period=period, threshold=cfg.q2q_threshold)
    investment = await store.get_investment(conn, company=company, period=period)
    sroi = domain.compute_sroi(counts, investment["amount"] if investment else None, cfg)
    vis = domain.compute_vis(await store.volunteer_stats(conn, company=company, period=period), period, cfg)
    figures = domain.figures(sroi, vis)
    before = await store.get_metrics(conn, company=company, period=period)
    detail = {"outcome_counts": counts, "sroi_steps": sroi.steps, "discount_rate": cfg.discount_rate,
              "vis_volunteers": vis.volunteers, "vis_weights": dict(cfg.vis_weights)}
    now = datetime.now(UTC)
    saved = await store.save_metrics(conn, company=company, period=period, metric_id=_new_metric_id(), figures=figures,
                                     currency=cfg.currency, config_version=cfg.version, detail=detail, computed_at=now)
    namespace = await conn.fetchval("SELECT current_schema()")
    reads = cache.for_namespace(namespace)
    # After commit: invalidating earlier would let a concurrent reader refill the old figures.
    uow.after_commit(lambda: reads.invalidate(cache.metrics_key(company, period)))
    if domain.changed(before, figures, cfg.version, before["config_version"] if before else None):
        uow.emit(METRICS_UPDATED, {
            "company_id": company, "period": period, "metric_id": saved["metric_id"], **figures,
            "config_version": cfg.version, "computed_at": now.isoformat(),
        }, subject=f"{company}/{period}", tenant=company)
    return saved
