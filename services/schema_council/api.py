"""HTTP routes of schema-council (all need a bearer JWT; every query is scoped to its tenant).

  POST /v1/proposals                          create a draft (idempotent: proposal_id or Idempotency-Key)
  GET  /v1/proposals?status=&kind=&contract=&cursor=&limit=
  GET  /v1/proposals/{id}                     with current/proposed documents, diff, impact, comments, audit
  POST /v1/proposals/{id}/comments            add a comment (Idempotency-Key optional)
  POST /v1/proposals/{id}/transition          {to: review|approved|rejected, accept_breaking?, reason?}
  POST /v1/diff                               diff two documents and judge them (stores nothing)
  GET  /v1/catalog?kind=&status=&source=&cursor=&limit=
  GET  /v1/catalog/{contract}
  POST /v1/catalog/{contract}/deprecate       {version, sunset_at, replacement?, notice?, override_window?}
  GET  /v1/changelog?format=markdown|json&since=
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.schema_council import catalog, domain, store
from services.schema_council.diff import Mode
from summit_common import tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.logs import get_logger
from summit_common.pagination import clamp_limit, decode_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts import new_id

log = get_logger(component="schema-council")
router = APIRouter(prefix="/v1", tags=["schema-council"])
Caller = Annotated[Principal, Depends(current_principal)]
Reviewer = Annotated[Principal, Depends(require_role(*domain.REVIEWER_ROLES))]

Kind = Literal["jsonschema", "openapi", "asyncapi", "protobuf", "graphql"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ContractName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                                pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]


class ProposalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: str | None = Field(default=None, max_length=100,
                                    description="client-chosen id: creating it again with the same body returns it")
    kind: Kind
    contract: ContractName = Field(description="an event type (jsonschema), a service name (openapi/asyncapi) or any id")
    title: Name | None = None
    owner: Name = Field(description="the team or service that owns the contract")
    rationale: Text
    target_date: datetime | date | None = None
    proposed: Any = Field(description="the proposed document: a JSON value (or JSON/YAML text), or .proto / SDL text")
    current: Any = Field(default=None, description="the current document; default: the platform's or the last approved")
    history: list[Any] | None = Field(default=None, max_length=20,
                                      description="older registered versions, oldest first (for *_TRANSITIVE modes)")
    compatibility: str | None = Field(default=None, description="BACKWARD (default), FORWARD, FULL, *_TRANSITIVE")
    rename_hints: dict[str, str] | None = Field(default=None, description='{"$.old_path": "new_name"} (jsonschema)')


class TransitionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Literal["review", "approved", "rejected"]
    accept_breaking: bool = False
    reason: Reason | None = None


class CommentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Text


class DeprecateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None = None
    sunset_at: datetime
    replacement: Name | None = None
    notice: Text | None = None
    override_window: bool = False


class DiffBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    old: Any
    new: Any
    history: list[Any] | None = Field(default=None, max_length=20)
    compatibility: str | None = None
    rename_hints: dict[str, str] | None = None


def _problem(exc: Exception) -> Problem:
    if isinstance(exc, domain.Conflict):
        return Problem(409, "conflict", str(exc))
    if isinstance(exc, domain.Forbidden):
        return Problem(403, "forbidden", str(exc))
    return Problem(422, "invalid request", str(exc))


def _utc(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _actor(caller: Principal) -> domain.Actor:
    return domain.Actor(caller.sub, caller.roles)


# --- where the current version comes from ------------------------------------------------


async def _registered(conn: asyncpg.Connection, *, tenant: str, kind: str, contract: str) -> tuple[str, list, Mode]:
    """(source, registered versions oldest first as [label, document], default mode) of a contract:
    a platform event type (the gate's published history plus the repository's schema), a
    platform service's OpenAPI/AsyncAPI document, or the tenant's approved revisions."""
    platform = await catalog.platform_catalog()
    if any(e["type"] == contract for e in platform["events"]):
        if kind != "jsonschema":
            raise domain.Rejected(f"{contract} is an event contract: its kind is jsonschema, not {kind}")
        baseline = await catalog.published_baseline()
        history = catalog.event_history(platform, baseline, contract)
        return "platform", [list(h) for h in history], catalog.event_mode(baseline, contract)
    service = next((s for s in platform["services"] if s["name"] == contract), None)
    if service is not None and kind in ("openapi", "asyncapi"):
        document = await catalog.service_document(contract, kind)
        return "platform", [[f"{contract} {service['version']}", document]], Mode.BACKWARD
    revisions = await store.revisions(conn, tenant=tenant, contract=contract)
    if revisions:
        if revisions[-1]["kind"] != kind:
            raise domain.Rejected(f"{contract} is a {revisions[-1]['kind']} contract, not {kind}")
        return "tenant", [[f"rev-{r['revision']}", r["document"]] for r in revisions], Mode.BACKWARD
    return "none", [], Mode.BACKWARD


async def _analyse(kind: str, history: list, proposed: Any, mode: Mode, hints: dict[str, str]) -> domain.Analysis:
    # Pure CPU work on possibly large documents: off the event loop.
    return await asyncio.to_thread(domain.analyse, kind, history=[tuple(h) for h in history], proposed=proposed,
                                   mode=mode, rename_hints=hints)


async def _impact(kind: str, contract: str, analysis: domain.Analysis) -> dict[str, Any]:
    platform = await catalog.platform_catalog()
    return domain.impact(kind=kind, contract=contract, catalog=platform, changes=analysis.changes,
                         breaking=analysis.breaking)


# --- proposals ---------------------------------------------------------------------------


async def _view(conn: asyncpg.Connection, tenant: str, row: dict[str, Any]) -> dict[str, Any]:
    history = row["history"]
    return {
        "proposal_id": row["proposal_id"],
        "kind": row["kind"],
        "contract": row["contract"],
        "title": row["title"],
        "owner": row["owner"],
        "rationale": row["rationale"],
        "target_date": row["target_date"],
        "status": row["status"],
        "allowed_transitions": sorted(domain.TRANSITIONS[row["status"]]),
        "compatibility": row["mode"],
        "breaking": row["breaking"],
        "published": row["published"],
        "accept_breaking_reason": row["accept_breaking_reason"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "decided_by": row["decided_by"],
        "decided_at": row["decided_at"],
        "current_source": row["current_source"],
        "registered_versions": [label for label, _ in history],
        "current": history[-1][1] if history else None,
        "proposed": row["proposed_document"],
        "rename_hints": row["rename_hints"],
        "diff": row["analysis"],
        "impact": row["impact"],
        "comments": await store.comments(conn, tenant=tenant, proposal_id=row["proposal_id"]),
        "audit": await store.audit_trail(conn, tenant=tenant, proposal_id=row["proposal_id"]),
    }


async def _not_found(runtime, conn: asyncpg.Connection, caller: Principal, proposal_id: str, action: str) -> Problem:
    owner = await store.proposal_owner(conn, proposal_id=proposal_id)
    return await tenancy.not_found(runtime.pool, caller, f"proposal {proposal_id}", owner_tenant=owner, action=action)


async def _replay(conn: asyncpg.Connection, tenant: str, existing: dict[str, Any], request_hash: str,
                  response: Response) -> dict[str, Any]:
    if existing["request_hash"] != request_hash:
        raise Problem(409, "idempotency conflict",
                      f"proposal {existing['proposal_id']} was already created with this id or Idempotency-Key "
                      "and a different request")
    response.status_code = 200
    response.headers["Location"] = f"/v1/proposals/{existing['proposal_id']}"
    return await _view(conn, tenant, existing)


@router.post("/proposals", status_code=201)
async def create_proposal(body: ProposalCreate, request: Request, response: Response, caller: Caller,
                          idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Create a draft proposal. The diff against the registered versions, the compatibility
    verdict and the impact are computed now and shown on the proposal."""
    runtime = request.app.state.runtime
    try:
        if body.proposal_id and idempotency_key and body.proposal_id != idempotency_key:
            raise domain.Rejected("send proposal_id or an Idempotency-Key header, not two different ones")
        key = body.proposal_id or idempotency_key
        if key is not None:
            domain.validate_proposal_id(key)
        request_hash = domain.request_fingerprint(body.model_dump(mode="json", exclude_unset=True))
        async with runtime.pool.acquire() as conn:
            if key is not None:
                existing = await store.proposal_by_key(conn, tenant=caller.tenant, idempotency_key=key)
                if existing is not None:
                    return await _replay(conn, caller.tenant, existing, request_hash, response)
            if "current" in body.model_fields_set:
                if body.current is None:
                    raise domain.Rejected("current is null: leave it out to use the registered version")
                source = "request"
                docs = [*(body.history or []), body.current]
                labels = [f"history-{i}" for i in range(1, len(docs))] + ["current"]
                history = [[label, domain.prepare_document(body.kind, d, label)] for label, d in zip(labels, docs, strict=True)]
                default_mode = Mode.BACKWARD
            else:
                if body.history:
                    raise domain.Rejected("history needs current: send both, or neither to use the registered versions")
                source, history, default_mode = await _registered(conn, tenant=caller.tenant, kind=body.kind,
                                                                  contract=body.contract)
        proposed = domain.prepare_document(body.kind, body.proposed, "proposed")
        mode = domain.parse_mode(body.compatibility, default_mode)
        if mode is Mode.NONE and history:
            raise domain.Rejected("compatibility NONE switches the check off; it is not allowed for a published contract")
        hints = domain.validate_rename_hints(body.rename_hints)
        if hints and body.kind != "jsonschema":
            raise domain.Rejected("rename_hints apply to jsonschema proposals only")
        analysis = await _analyse(body.kind, history, proposed, mode, hints)
    except (domain.Rejected, domain.Conflict) as exc:
        raise _problem(exc) from None
    impact = await _impact(body.kind, body.contract, analysis)
    proposal_id = body.proposal_id or new_id()
    record = {
        "proposal_id": proposal_id, "idempotency_key": key, "request_hash": request_hash, "kind": body.kind,
        "contract": body.contract, "title": body.title or f"{body.kind} change to {body.contract}", "owner": body.owner,
        "rationale": body.rationale, "target_date": _utc(body.target_date), "mode": mode.value,
        "current_source": source, "history": history, "proposed_document": proposed, "rename_hints": hints,
        "analysis": analysis.as_dict(), "impact": impact, "breaking": analysis.breaking, "published": bool(history),
        "created_by": caller.sub,
    }
    try:
        async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
            row = await store.insert_proposal(uow.conn, tenant=caller.tenant, proposal=record)
            await store.audit(uow.conn, tenant=caller.tenant, proposal_id=proposal_id, actor=caller.sub, action="created",
                              to_status=domain.DRAFT, detail={"breaking": analysis.breaking, "mode": mode.value,
                                                              "changes": len(analysis.changes)})
    except asyncpg.UniqueViolationError:
        # A concurrent retry with the same key (or a reused proposal_id) won the race.
        async with runtime.pool.acquire() as conn:
            existing = await store.proposal_by_key(conn, tenant=caller.tenant, idempotency_key=key or proposal_id)
            if existing is None:
                existing = await store.get_proposal(conn, tenant=caller.tenant, proposal_id=proposal_id)
            if existing is None:
                raise
            return await _replay(conn, caller.tenant, existing, request_hash, response)
    log.info("proposal_created", tenant=caller.tenant, proposal_id=proposal_id, kind=body.kind,
             breaking=analysis.breaking, changes=len(analysis.changes))
    response.headers["Location"] = f"/v1/proposals/{proposal_id}"
    async with runtime.pool.acquire() as conn:
        return await _view(conn, caller.tenant, row)


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        created_at, proposal_id = key
        return datetime.fromisoformat(created_at), str(proposal_id)
    except (TypeError, ValueError):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned") from None


@router.get("/proposals")
async def list_proposals(
    request: Request,
    caller: Caller,
    status: Literal["draft", "review", "approved", "rejected"] | None = None,
    kind: Kind | None = None,
    contract: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The tenant's proposals, newest first (summaries; GET one for documents and diff)."""
    limit = clamp_limit(limit)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        rows = await store.list_proposals(conn, tenant=caller.tenant, status=status, kind=kind, contract=contract,
                                          after=_after(cursor), limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1]["created_at"].isoformat(), page[-1]["proposal_id"]) if more else None
    return {"items": page, "next_cursor": next_cursor}


@router.get("/proposals/{proposal_id}")
async def get_proposal(proposal_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        row = await store.get_proposal(conn, tenant=caller.tenant, proposal_id=proposal_id)
        if row is None:
            raise await _not_found(runtime, conn, caller, proposal_id, "read")
        return await _view(conn, caller.tenant, row)


@router.post("/proposals/{proposal_id}/comments", status_code=201)
async def add_comment(proposal_id: str, body: CommentBody, request: Request, response: Response, caller: Caller,
                      idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Comment on a proposal in any state. A retry with the same Idempotency-Key returns the first comment."""
    runtime = request.app.state.runtime
    if idempotency_key is not None:
        try:
            domain.validate_proposal_id(idempotency_key)
        except domain.Rejected as exc:
            raise _problem(exc) from None
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        row = await store.get_proposal(uow.conn, tenant=caller.tenant, proposal_id=proposal_id, for_update=True)
        if row is None:
            raise await _not_found(runtime, uow.conn, caller, proposal_id, "comment")
        comment = await store.insert_comment(uow.conn, tenant=caller.tenant, proposal_id=proposal_id,
                                             comment_id=new_id(), author=caller.sub, body=body.body,
                                             idempotency_key=idempotency_key)
        if comment is None:
            existing = await store.comment_by_key(uow.conn, tenant=caller.tenant, proposal_id=proposal_id,
                                                  idempotency_key=idempotency_key or "")
            if existing is None or existing["body"] != body.body or existing["author"] != caller.sub:
                raise Problem(409, "idempotency conflict", "this Idempotency-Key was used for a different comment")
            response.status_code = 200
            return existing
        await store.audit(uow.conn, tenant=caller.tenant, proposal_id=proposal_id, actor=caller.sub, action="comment",
                          from_status=row["status"], to_status=row["status"],
                          detail={"comment_id": comment["comment_id"]})
    log.info("proposal_commented", tenant=caller.tenant, proposal_id=proposal_id, comment_id=comment["comment_id"])
    return comment


@router.post("/proposals/{proposal_id}/transition")
async def transition(proposal_id: str, body: TransitionBody, request: Request, caller: Caller) -> dict[str, Any]:
    """draft -> review (author, schema_reviewer, admin); review -> approved | rejected
    (schema_reviewer or admin, not the author). Approving a change that breaks a published
    contract needs accept_breaking: true and a reason. Illegal transitions are 409."""
    runtime = request.app.state.runtime
    actor = _actor(caller)
    req = domain.TransitionRequest(to=body.to, accept_breaking=body.accept_breaking, reason=body.reason)
    try:
        async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
            conn = uow.conn
            row = await store.get_proposal(conn, tenant=caller.tenant, proposal_id=proposal_id, for_update=True)
            if row is None:
                raise await _not_found(runtime, conn, caller, proposal_id, "transition")
            last = await store.last_transition_actor(conn, tenant=caller.tenant, proposal_id=proposal_id)
            if domain.is_repeat(status=row["status"], to=body.to, last_actor=last, actor=actor):
                return await _view(conn, caller.tenant, row)
            detail: dict[str, Any] = {}
            await store.lock_contract(conn, tenant=caller.tenant, contract=row["contract"])
            if row["status"] in (domain.DRAFT, domain.REVIEW) and row["current_source"] != "request":
                row, refreshed = await _refresh(conn, caller.tenant, row)
                if refreshed:
                    detail["analysis_refreshed"] = refreshed
            domain.check_transition(status=row["status"], created_by=row["created_by"], breaking=row["breaking"],
                                    published=row["published"], request=req, actor=actor)
            now = datetime.now(UTC)
            if body.to == domain.REVIEW:
                await store.set_status(conn, tenant=caller.tenant, proposal_id=proposal_id, status=body.to)
                uow.emit("governance.proposal.submitted.v1", {
                    "proposal_id": proposal_id, "kind": row["kind"], "contract": row["contract"], "owner": row["owner"],
                    "target_date": row["target_date"].isoformat() if row["target_date"] else None,
                    "breaking": row["breaking"],
                }, subject=proposal_id)
            else:
                reason = body.reason if body.accept_breaking else None
                await store.set_status(conn, tenant=caller.tenant, proposal_id=proposal_id, status=body.to,
                                       decided_by=caller.sub, decided_at=now, accept_breaking_reason=reason)
                if body.to == domain.APPROVED:
                    detail["revision"] = await store.add_revision(
                        conn, tenant=caller.tenant, contract=row["contract"], kind=row["kind"], owner=row["owner"],
                        document=row["proposed_document"], proposal_id=proposal_id, approved_by=caller.sub,
                        approved_at=now)
                uow.emit("governance.proposal.decided.v1", {
                    "proposal_id": proposal_id, "kind": row["kind"], "contract": row["contract"], "decision": body.to,
                    "breaking": row["breaking"], "decided_by": caller.sub, "decided_at": now.isoformat(),
                }, subject=proposal_id)
            if body.accept_breaking:
                detail.update(accept_breaking=True, reason=body.reason)
            elif body.reason:
                detail["reason"] = body.reason
            await store.audit(conn, tenant=caller.tenant, proposal_id=proposal_id, actor=caller.sub, action="transition",
                              from_status=row["status"], to_status=body.to, detail=detail)
            updated = await store.get_proposal(conn, tenant=caller.tenant, proposal_id=proposal_id)
            view = await _view(conn, caller.tenant, updated)  # type: ignore[arg-type]
    except domain.Forbidden as exc:
        await tenancy.audit(runtime.pool, principal=caller, action=f"transition:{body.to}",
                            resource=f"proposal {proposal_id}", outcome="forbidden")
        raise _problem(exc) from None
    except (domain.Rejected, domain.Conflict) as exc:
        raise _problem(exc) from None
    log.info("proposal_transition", tenant=caller.tenant, proposal_id=proposal_id, to=body.to,
             breaking=view["breaking"])
    return view


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


async def _refresh(conn: asyncpg.Connection, tenant: str, row: dict[str, Any]) -> tuple[dict[str, Any], dict | None]:
    """Re-run the analysis against the contract's registered versions as they are now (an
    approval elsewhere may have moved them since the draft was written)."""
    source, history, _ = await _registered(conn, tenant=tenant, kind=row["kind"], contract=row["contract"])
    if _canonical(history) == _canonical(row["history"]):
        return row, None
    analysis = await _analyse(row["kind"], history, row["proposed_document"], Mode(row["mode"]), row["rename_hints"])
    impact = await _impact(row["kind"], row["contract"], analysis)
    await store.update_analysis(conn, tenant=tenant, proposal_id=row["proposal_id"], history=history,
                                analysis=analysis.as_dict(), impact=impact, breaking=analysis.breaking,
                                published=bool(history))
    refreshed = {"versions": [h[0] for h in history], "breaking_before": row["breaking"],
                 "breaking_after": analysis.breaking}
    return {**row, "history": history, "analysis": analysis.as_dict(), "impact": impact, "breaking": analysis.breaking,
            "published": bool(history), "current_source": source}, refreshed


# --- stateless diff ----------------------------------------------------------------------


@router.post("/diff")
async def diff(body: DiffBody, caller: Caller) -> dict[str, Any]:
    """Diff `old` -> `new` (and `history` -> `new` for *_TRANSITIVE modes) and judge the
    result under `compatibility` (default BACKWARD). Nothing is stored."""
    try:
        docs = [*(body.history or []), body.old]
        labels = [f"history-{i}" for i in range(1, len(docs))] + ["old"]
        history = [[label, domain.prepare_document(body.kind, d, label)] for label, d in zip(labels, docs, strict=True)]
        new = domain.prepare_document(body.kind, body.new, "new")
        mode = domain.parse_mode(body.compatibility, Mode.BACKWARD)
        hints = domain.validate_rename_hints(body.rename_hints)
        analysis = await _analyse(body.kind, history, new, mode, hints)
    except domain.Rejected as exc:
        raise _problem(exc) from None
    return {"kind": body.kind, **analysis.as_dict()}


# --- catalogue ---------------------------------------------------------------------------


async def _catalog(conn: asyncpg.Connection, tenant: str) -> list[dict[str, Any]]:
    platform = await catalog.platform_catalog()
    baseline = await catalog.published_baseline()
    return domain.build_catalog(platform=platform, modes=catalog.event_modes(platform, baseline),
                                deprecations=await store.deprecations(conn, tenant=tenant),
                                revisions=await store.revisions(conn, tenant=tenant), now=datetime.now(UTC))


def _find(entries: list[dict[str, Any]], contract: str) -> tuple[dict[str, Any] | None, str | None]:
    """The entry a path names (the entity, or an event type with its major) and the version it pins."""
    by_name = {e["contract"]: e for e in entries}
    if contract in by_name:
        return by_name[contract], None
    entity, major = domain.split_versioned(contract)
    entry = by_name.get(entity)
    if entry is not None and major is not None and entry["kind"] == "jsonschema" and entry["source"] == "platform":
        return entry, f"v{major}"
    return None, None


async def _catalog_not_found(runtime, conn: asyncpg.Connection, caller: Principal, contract: str, action: str) -> Problem:
    owner = await store.contract_owner(conn, contract=contract)
    return await tenancy.not_found(runtime.pool, caller, f"contract {contract}", owner_tenant=owner, action=action)


@router.get("/catalog")
async def list_catalog(
    request: Request,
    caller: Caller,
    kind: Kind | None = None,
    status: Literal["active", "deprecated", "sunset"] | None = None,
    source: Literal["platform", "tenant"] | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Every contract: the platform's event types and service APIs, and the tenant's own
    approved contracts; with owner, versions, lifecycle status and deprecation windows."""
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        entries = await _catalog(conn, caller.tenant)
    items = [e for e in entries if (kind is None or e["kind"] == kind) and (status is None or e["status"] == status)
             and (source is None or e["source"] == source) and (after is None or e["contract"] > str(after[0]))]
    page, more = items[:limit], len(items) > limit
    return {"items": page, "next_cursor": encode_cursor(page[-1]["contract"]) if more else None}


@router.get("/catalog/{contract}")
async def get_catalog_entry(contract: str, request: Request, caller: Caller) -> dict[str, Any]:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        entry, pinned = _find(await _catalog(conn, caller.tenant), contract)
        if entry is None:
            raise await _catalog_not_found(runtime, conn, caller, contract, "read")
    if pinned is not None:
        if pinned not in {v["version"] for v in entry["versions"]}:
            raise Problem(404, "not found", f"contract {contract} does not exist")
        return {**entry, "selected_version": pinned}
    return entry


@router.post("/catalog/{contract}/deprecate", status_code=201)
async def deprecate(contract: str, body: DeprecateBody, request: Request, response: Response,
                    caller: Reviewer) -> dict[str, Any]:
    """Deprecate one version of a contract: consumers have until `sunset_at` (at least 90 days
    away unless an admin sets override_window) to move to `replacement`. Emits
    governance.contract.deprecated.v1. Repeating it with the same values changes nothing."""
    runtime = request.app.state.runtime
    now = datetime.now(UTC)
    async with runtime.pool.acquire() as conn:
        entry, pinned = _find(await _catalog(conn, caller.tenant), contract)
        if entry is None:
            raise await _catalog_not_found(runtime, conn, caller, contract, "deprecate")
    try:
        if pinned and body.version and domain.normalise_event_version(body.version) != pinned:
            raise domain.Rejected(f"the path names {pinned} but the body says version {body.version}")
        wanted = body.version or pinned
        if wanted is None:
            raise domain.Rejected("version is required: which version of the contract is deprecated?")
        version = domain.resolve_catalog_version(entry, wanted)
        sunset_at = _utc(body.sunset_at)
        assert sunset_at is not None
        domain.check_deprecation(now=now, sunset_at=sunset_at, override_window=body.override_window, actor=_actor(caller))
    except (domain.Rejected, domain.Forbidden) as exc:
        raise _problem(exc) from None
    name = entry["contract"]
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        existing = await store.get_deprecation(uow.conn, tenant=caller.tenant, contract=name, version=version,
                                               for_update=True)
        unchanged = existing is not None and (existing["sunset_at"], existing["replacement"], existing["notice"]) == (
            sunset_at, body.replacement, body.notice)
        if unchanged:
            row = existing
        else:
            row = await store.upsert_deprecation(
                uow.conn, tenant=caller.tenant, contract=name, version=version, deprecated_at=now, sunset_at=sunset_at,
                replacement=body.replacement, notice=body.notice, deprecated_by=caller.sub,
                window_overridden=(sunset_at - now) < domain.MIN_DEPRECATION_WINDOW)
            uow.emit("governance.contract.deprecated.v1", {
                "contract": name, "version": version, "deprecated_at": row["deprecated_at"].isoformat(),
                "sunset_at": row["sunset_at"].isoformat(), "replacement": row["replacement"], "notice": row["notice"],
            }, subject=f"{name}@{version}")
    if existing is not None:
        response.status_code = 200
    log.info("contract_deprecated", tenant=caller.tenant, contract=name, version=version, changed=not unchanged)
    return {**domain.deprecation_entry(row), "window_days": (row["sunset_at"] - row["deprecated_at"]).days,
            "window_overridden": row["window_overridden"], "deprecated_by": row["deprecated_by"],
            "changed": not unchanged}


# --- change log --------------------------------------------------------------------------


def _since(value: str | None) -> tuple[datetime | None, date | None]:
    if value is None:
        return None, None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(422, "invalid request", f"since must be a date or date-time (ISO 8601), got {value!r}") from None
    parsed = _utc(parsed)
    assert parsed is not None
    return parsed, parsed.date()


@router.get("/changelog", response_model=None)
async def changelog(
    request: Request,
    caller: Caller,
    format: Literal["markdown", "json"] = "json",
    since: Annotated[str | None, Query(description="decisions on or after this date / date-time")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response | dict[str, Any]:
    """The change log of decided proposals (newest first) and deprecations, as JSON or Markdown."""
    since_at, since_date = _since(since)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        decided = await store.decided_proposals(conn, tenant=caller.tenant, since=since_at, limit=limit)
        deps = await store.deprecations(conn, tenant=caller.tenant, since=since_at)
    entries = [domain.changelog_entry(r) for r in decided]
    deprecations = [domain.deprecation_entry(d) for d in deps]
    now = datetime.now(UTC)
    if format == "markdown":
        text = domain.render_changelog_markdown(entries=entries, deprecations=deprecations, since=since_date,
                                                generated_at=now)
        return Response(content=text, media_type="text/markdown; charset=utf-8")
    return domain.render_changelog_json(entries=entries, deprecations=deprecations, since=since_date, generated_at=now)

