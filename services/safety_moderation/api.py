"""HTTP routes of safety-moderation (bearer JWT, scoped to the caller's tenant).

Review queue (role reviewer or admin; platform-admin passes every role check):
  GET  /v1/reviews?status=pending|decided&category=&severity=&content_id=&cursor=&limit=
  GET  /v1/reviews/{flag_id}
  POST /v1/reviews/{flag_id}/decision     {"decision": approved|rejected|escalated, "reason": ...}
The release gate (any valid token of the tenant):
  GET  /v1/screenings/{content_type}/{content_id}
Policy:
  GET  /v1/policy                         (reviewer or admin) the active policy's rules and version
  POST /v1/policy/reload                  (admin) re-read the policy file now
  POST /v1/screen                         (reviewer or admin) dry-run a text against the active policy; stores nothing
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from services.safety_moderation import domain, policy, store
from services.safety_moderation.handlers import REVIEW_COMPLETED
from summit_common import tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.logs import get_logger
from summit_common.pagination import clamp_limit, decode_cursor, encode_cursor
from summit_common.problems import Problem

log = get_logger(component="safety-moderation")
router = APIRouter(prefix="/v1", tags=["safety-moderation"])

REVIEW_ROLES = ("reviewer", "admin")
Caller = Annotated[Principal, Depends(current_principal)]
Reviewer = Annotated[Principal, Depends(require_role(*REVIEW_ROLES))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: domain.Decision
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _reason_when_not_approved(self) -> DecisionIn:
        if self.decision != "approved" and not self.reason:
            raise ValueError(f"reason is required when the decision is {self.decision}")
        return self


class ScreenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


def _runtime(request: Request):
    return request.app.state.runtime


# --- review queue ---------------------------------------------------------------------------


def _after(cursor: str | None, status: str) -> tuple | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        kind, first, last = key
        if kind != status:
            raise ValueError("cursor of another status")
        if store.as_uuid(str(last)) is None:
            raise ValueError("not a flag id")
        if status == "pending":
            rank = int(first)
            if rank not in domain.SEVERITY_RANK.values():
                raise ValueError("not a severity rank")
            return rank, store.as_uuid(str(last))
        return datetime.fromisoformat(str(first)), store.as_uuid(str(last))
    except (TypeError, ValueError):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned for this status") from None


@router.get("/reviews")
async def list_reviews(
    request: Request,
    caller: Reviewer,
    status: Literal["pending", "decided"] = "pending",
    category: Annotated[str | None, Query(max_length=40)] = None,
    severity: domain.Severity | None = None,
    content_id: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The caller's tenant's flags. pending: most severe first, then oldest first; decided:
    most recently decided first. Items carry the masked excerpt, not the full masked text."""
    limit = clamp_limit(limit)
    after = _after(cursor, status)
    runtime = _runtime(request)
    async with runtime.pool.acquire() as conn:
        rows = await store.list_flags(conn, tenant=caller.tenant, status=status, category=category, severity=severity,
                                      content_id=content_id, after=after, limit=limit + 1)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        key = last["severity_rank"] if status == "pending" else last["decided_at"].isoformat()
        next_cursor = encode_cursor(status, key, str(last["flag_id"]))
    return {"items": [store.flag_view(r, full=False) for r in page], "next_cursor": next_cursor}


async def _not_found(request: Request, caller: Principal, flag_id: str, row, action: str) -> Problem:
    return await tenancy.not_found(_runtime(request).pool, caller, f"flag {flag_id}",
                                   owner_tenant=row["tenant_id"] if row else None, action=action)


@router.get("/reviews/{flag_id}")
async def get_review(flag_id: str, request: Request, caller: Reviewer) -> dict[str, Any]:
    """One flag: masked text, content hash, which rules matched, and the decision if any."""
    async with _runtime(request).pool.acquire() as conn:
        row = await store.get_flag(conn, flag_id=flag_id)
    if row is None or not caller.can_see(row["tenant_id"]):
        raise await _not_found(request, caller, flag_id, row, "read")
    return store.flag_view(row)


@router.post("/reviews/{flag_id}/decision")
async def decide(flag_id: str, body: DecisionIn, request: Request, caller: Reviewer) -> dict[str, Any]:
    """Decide a pending flag, once. Emits safety.review.completed.v1 with the decision,
    committed with it (outbox). A second decision is a 409 and changes nothing."""
    runtime = _runtime(request)
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        row = await store.get_flag(uow.conn, flag_id=flag_id, for_update=True)
        if row is None or not caller.can_see(row["tenant_id"]):
            raise await _not_found(request, caller, flag_id, row, "decide")
        try:
            domain.decide(row["status"], row["decision"], body.decision)
        except domain.AlreadyDecided:
            raise Problem(
                409, "already decided",
                f"flag {flag_id} was already decided ({row['decision']} by {row['reviewer']} at"
                f" {row['decided_at'].isoformat()}); a decision is final",
                decision=row["decision"], decided_at=row["decided_at"].isoformat(),
            ) from None
        now = datetime.now(UTC)
        reason = domain.mask_pii(body.reason) if body.reason else None  # a reviewer's note must not carry PII either
        updated = await store.record_decision(uow.conn, flag_id=flag_id, decision=body.decision, reason=reason,
                                              reviewer=caller.sub, decided_at=now)
        uow.emit(REVIEW_COMPLETED, {
            "flag_id": flag_id, "content_id": row["content_id"], "decision": body.decision, "reviewer": caller.sub,
            "reviewed_at": now, "reason": reason,
        }, subject=str(row["flag_id"]), tenant=row["tenant_id"])
    log.info("review_decided", flag_id=flag_id, tenant=row["tenant_id"], decision=body.decision, reviewer=caller.sub)
    return store.flag_view(updated)


# --- the release gate -----------------------------------------------------------------------


@router.get("/screenings/{content_type}/{content_id}")
async def get_screening(content_type: str, content_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    """The latest screening of a record and whether it may be used downstream (`releasable`):
    the same gate as the events, for consumers that reconcile over HTTP."""
    if content_type not in domain.CONTENT_FIELDS:
        raise Problem(422, "unknown content type",
                      f"{content_type!r} is not screened here; screened types: {', '.join(sorted(domain.CONTENT_FIELDS))}")
    runtime = _runtime(request)
    async with runtime.pool.acquire() as conn:
        found = await store.latest_screening(conn, tenant=caller.tenant, content_type=content_type, content_id=content_id)
        if found is None:
            owner = await store.screening_owner(conn, content_type=content_type, content_id=content_id)
            raise await tenancy.not_found(runtime.pool, caller, f"screening of {content_type} {content_id}",
                                          owner_tenant=owner)
    return found


# --- policy ---------------------------------------------------------------------------------


@router.get("/policy")
async def get_policy(caller: Reviewer) -> dict[str, Any]:
    """The active policy: version (sha256 of the file), rules (without their word lists), and
    the last error if the file on disk was refused."""
    return policy.holder().status()


@router.post("/policy/reload")
async def reload_policy(request: Request, caller: Admin) -> dict[str, Any]:
    """Re-read the policy file now (it is also re-read when its hash changes). An invalid
    file is a 422 listing every problem; the active policy stays in force."""
    holder = policy.holder()
    pool = _runtime(request).pool
    resource = f"policy {holder.path.name}"
    try:
        result = await holder.reload()
    except domain.PolicyError as exc:
        await tenancy.audit(pool, principal=caller, action="policy.reload", resource=resource, outcome="rejected",
                            active_version=holder.policy.version)
        raise Problem(
            422, "invalid policy",
            f"the policy file was rejected and policy {holder.policy.version} stays in force: {exc.errors[0]}",
            errors=list(exc.errors), active_policy_version=holder.policy.version,
        ) from None
    await tenancy.audit(pool, principal=caller, action="policy.reload", resource=resource,
                        outcome="reloaded" if result.changed else "unchanged", policy_version=result.policy.version,
                        previous_version=result.previous_version)
    return {"policy_version": result.policy.version, "previous_version": result.previous_version,
            "changed": result.changed, "rules": len(result.policy.rules)}


@router.post("/screen")
async def dry_run(body: ScreenIn, caller: Reviewer) -> dict[str, Any]:
    """Screen a text against the active policy without storing or emitting anything (to try a
    policy change). The answer shows the masked text only."""
    holder = policy.holder()
    result = domain.screen(await holder.current(), body.text, context_chars=holder.excerpt_chars)
    primary = result.primary
    return {
        "outcome": result.outcome,
        "verdict": result.verdict,
        "severity": result.severity,
        "category": primary.category if primary else None,
        "rule_id": primary.rule_id if primary else None,
        "matches": [m.summary() for m in result.matches],
        "masked_text": result.masked_text or domain.mask_pii(body.text),
        "excerpt": result.excerpt,
        "policy_version": result.policy_version,
    }
