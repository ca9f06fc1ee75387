"""HTTP routes (bearer JWT, scoped to the caller's tenant = company).

GET /v1/metrics/{company}/{period}      SROI + VIS figures (cached; invalidated by recomputes)
GET /v1/lineage/{metric_id}             contributing events, evidence ids, arithmetic step by step
PUT /v1/investments/{company}/{period}  record the investment (admin, company_user); recomputes
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.impact_calculator import cache, calculator, domain, store
from summit_common import tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.pagination import clamp_limit, decode_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts.ids import is_uuid

router = APIRouter(prefix="/v1", tags=["impact-calculator"])
Caller = Annotated[Principal, Depends(current_principal)]
Writer = Annotated[Principal, Depends(require_role("admin", "company_user"))]


class InvestmentPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(gt=0, le=1e13)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")


def _check_period(period: str) -> None:
    if not domain.is_period(period):
        raise Problem(422, "invalid period", f"period {period!r} is not a calendar quarter YYYY-Qn or month YYYY-MM")


def _view(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("company_id", "period", "metric_id", "revision", "sroi_ratio", "social_value", "investment",
                              "currency", "vis_score", "config_version", "computed_at")} | {
        "outcome_counts": m["detail"]["outcome_counts"], "lineage": f"/v1/lineage/{m['metric_id']}"}


async def _company_not_found(request: Request, caller: Principal, company: str, period: str, action: str = "read") -> Problem:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        owner = company if await store.company_known(conn, company=company) else None
    return await tenancy.not_found(runtime.pool, caller, f"metrics {company}/{period}", owner_tenant=owner, action=action)


@router.get("/metrics/{company}/{period}")
async def get_metrics(company: str, period: str, caller: Caller, request: Request) -> dict:
    """The figures of one company and period (404 for another tenant's company or no data yet)."""
    _check_period(period)
    if not caller.can_see(company):
        raise await _company_not_found(request, caller, company, period)
    runtime = request.app.state.runtime
    reads = cache.for_namespace(runtime.schema)
    key = cache.metrics_key(company, period)
    hit = await reads.get(key)
    if hit is not None:
        return hit | {"cached": True}
    async with runtime.pool.acquire() as conn:
        metrics = await store.get_metrics(conn, company=company, period=period)
    if metrics is None:
        raise Problem(404, "not found", f"no metrics for {company} in {period} yet")
    view = _view(metrics)
    view["computed_at"] = view["computed_at"].isoformat()
    await reads.set(key, view)
    return view | {"cached": False}


@router.get("/lineage/{metric_id}")
async def get_lineage(metric_id: str, caller: Caller, request: Request, limit: int = 100, cursor: str | None = None) -> dict:
    """Where a figure comes from: the events (ids, types) behind it, q2q evidence ids, the SROI
    arithmetic per outcome and year, and the VIS per volunteer. Events are paged by cursor."""
    runtime = request.app.state.runtime
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    async with runtime.pool.acquire() as conn:
        metrics = await store.get_metrics_by_id(conn, metric_id=metric_id) if is_uuid(metric_id) else None
        if metrics is None or not caller.can_see(metrics["company_id"]):
            raise await tenancy.not_found(runtime.pool, caller, f"metric {metric_id}",
                                          owner_tenant=metrics["company_id"] if metrics else None)
        company, period = metrics["company_id"], metrics["period"]
        rows = await store.contributing_facts(conn, company=company, period=period, limit=limit + 1,
                                              after=after[0] if after else None)
        evidence = await store.evidence_ids(conn, company=company, period=period)
    page = rows[:limit]
    detail = metrics["detail"]
    return {
        **_view(metrics),
        "events": [{"event_id": r["event_id"], "event_type": r["event_type"], "fact": r["fact_key"], "kind": r["kind"],
                    "label": r["label"], "value": r["value"], "occurred_at": r["occurred_at"],
                    "evidence_ids": list(r["evidence_ids"])} for r in page],
        "next_cursor": encode_cursor(page[-1]["fact_key"]) if len(rows) > limit else None,
        "evidence_ids": list(evidence),
        "sroi": {"discount_rate": detail["discount_rate"], "steps": detail["sroi_steps"],
                 "social_value": metrics["social_value"], "investment": metrics["investment"],
                 "sroi_ratio": metrics["sroi_ratio"],
                 "ratio_step": None if metrics["investment"] is None else
                 f"{metrics['social_value']} / {metrics['investment']} = {metrics['sroi_ratio']}"},
        "vis": {"weights": detail["vis_weights"], "volunteers": detail["vis_volunteers"], "score": metrics["vis_score"]},
    }


@router.put("/investments/{company}/{period}")
async def put_investment(company: str, period: str, body: InvestmentPut, caller: Writer, request: Request) -> dict:
    """Record (or replace) the investment of a company in a period; the SROI is recomputed now."""
    _check_period(period)
    cfg = calculator.config()
    if body.currency.upper() != cfg.currency:
        raise Problem(422, "unsupported currency",
                      f"investments are in {cfg.currency} (the currency of the financial proxies), got {body.currency}")
    if not caller.can_see(company):
        raise await _company_not_found(request, caller, company, period, action="update")
    runtime = request.app.state.runtime
    async with runtime.unit_of_work(tenant=company, correlationid=request.state.correlation_id) as uow:
        await store.lock_company_periods(uow.conn, company=company, periods=[period])
        await store.put_investment(uow.conn, company=company, period=period, amount=body.amount,
                                   currency=cfg.currency, by=caller.sub)
        metrics = await calculator.recompute(uow, company=company, period=period)
    view = _view(metrics)
    return view

