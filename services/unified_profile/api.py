"""HTTP routes of the unified profile (bearer JWT, scoped to the caller's tenant).

Reads:  GET /v1/profiles/{profile_id}, GET /v1/profiles (identity lookup, flag filter, cursor pages).
Writes: PUT /v1/profiles/{profile_id} (set flags by hand), POST /v1/profiles/mappings (link an identity).
Writes produce orchestration.profile.updated.v1 and first-time
orchestration.journey.milestone.reached.v1, committed with the change (outbox).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints

from services.unified_profile import domain, profiles, store
from services.unified_profile.store import ProfileRow
from summit_common import UnitOfWork, tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.pagination import clamp_limit, decode_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts.events.common import NonEmpty

router = APIRouter(prefix="/v1", tags=["unified-profile"])
Caller = Annotated[Principal, Depends(current_principal)]

# Company staff curate their participants' profiles; platform-admin passes as well (Principal.has).
WRITE_ROLES = ("company_user", "admin")
SystemName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]  # as in ExternalRef


Writer = Annotated[Principal, Depends(require_role(*WRITE_ROLES))]


class FlagsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flags: dict[str, StrictBool]


class MappingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: uuid.UUID | None = None
    system: SystemName
    external_id: NonEmpty


async def _view(conn, profile: ProfileRow, *, milestones: bool = True, identities: list | None = None) -> dict[str, Any]:
    if identities is None:
        identities = (await store.identities_of(conn, [profile.profile_id]))[profile.profile_id]
    view = {
        "profile_id": profile.profile_id,
        "tenant": profile.tenant,
        "version": profile.version,
        "flags": dict(profile.state.flags),
        "counters": dict(profile.state.counters),
        "last_activity_at": profile.state.last_activity_at,
        "identities": identities,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    }
    if milestones:
        view["milestones"] = await store.milestones_of(conn, profile.profile_id)
    return view


async def _not_found(request: Request, caller: Principal, profile_id: str, owner: ProfileRow | None, action: str = "read") -> Problem:
    return await tenancy.not_found(
        request.app.state.runtime.pool, caller, f"profile {profile_id}", owner_tenant=owner.tenant if owner else None, action=action
    )


def _unknown_flags_problem(names: list[str]) -> Problem:
    return Problem(
        422, "unknown flags", f"unknown flag names: {', '.join(names)}; known flags: {', '.join(domain.FLAGS)}",
        unknown_flags=names,
    )


@router.get("/profiles/{profile_id}")
async def get_profile(profile_id: str, caller: Caller, request: Request) -> dict:
    """A profile: flags, counters, identities, milestones and version."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        profile = await store.get_profile(conn, profile_id)
        if profile is None or not caller.can_see(profile.tenant):
            raise await _not_found(request, caller, profile_id, profile)
        return await _view(conn, profile)


@router.get("/profiles")
async def list_profiles(
    caller: Caller,
    request: Request,
    system: str | None = None,
    external_id: str | None = None,
    flag: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict:
    """The caller's tenant's profiles, oldest first. `system` + `external_id` look up the
    profile of one identity; `flag` keeps profiles where that flag is on."""
    if (system is None) != (external_id is None):
        raise Problem(422, "invalid query", "system and external_id go together: give both to look up an identity")
    if flag is not None and domain.unknown_flags([flag]):
        raise _unknown_flags_problem([flag])
    limit = clamp_limit(limit)
    after = decode_cursor(cursor)
    after_id = str(after[0]) if after else None
    if after is not None and (len(after) != 1 or store.as_uuid(after_id) is None):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        rows = await store.list_profiles(conn, tenant=caller.tenant, limit=limit + 1, after=after_id, flag=flag,
                                         system=system, external_id=external_id)
        page = rows[:limit]
        identities = await store.identities_of(conn, [p.profile_id for p in page])
        items = [await _view(conn, p, milestones=False, identities=identities[p.profile_id]) for p in page]
    return {"items": items, "next_cursor": encode_cursor(page[-1].profile_id) if len(rows) > limit else None}


@router.put("/profiles/{profile_id}")
async def put_flags(profile_id: str, body: FlagsUpdate, caller: Writer, request: Request) -> dict:
    """Set journey flags by hand. Emits profile.updated when something changed and a
    milestone for a flag that is on for the first time ever."""
    unknown = domain.unknown_flags(body.flags)
    if unknown:
        raise _unknown_flags_problem(unknown)
    runtime = request.app.state.runtime
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        profile = await store.lock_profile(uow.conn, profile_id)
        if profile is None or not caller.can_see(profile.tenant):
            raise await _not_found(request, caller, profile_id, profile, action="update")
        after = domain.set_flags(profile.state, body.flags)
        await profiles.commit_change(uow, profile, after, trigger_type=None)
        return await _view(uow.conn, await store.get_profile(uow.conn, profile.profile_id))


@router.post("/profiles/mappings", status_code=201)
async def create_mapping(body: MappingCreate, caller: Writer, request: Request, response: Response) -> dict:
    """Link an identity to a profile (201), or to a new profile when no profile_id is given.
    Linking an identity that already belongs to another profile is a 409: profiles are
    never merged implicitly. Repeating a link that exists is a 200 and changes nothing."""
    runtime = request.app.state.runtime
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        if body.profile_id is None:
            profile_id, created = await profiles.resolve_identity(
                uow, tenant=caller.tenant, system=body.system, external_id=body.external_id, linked_by=f"user:{caller.sub}"
            )
            profile = await profiles.lock(uow, profile_id)
            if not created:
                response.status_code = 200
                return await _view(uow.conn, profile)
            await profiles.commit_change(uow, profile, profile.state, also_changed=(domain.IDENTITIES,), trigger_type=None)
            return await _view(uow.conn, await store.get_profile(uow.conn, profile_id))

        profile_id = str(body.profile_id)
        profile = await store.lock_profile(uow.conn, profile_id)
        if profile is None or not caller.can_see(profile.tenant):
            raise await _not_found(request, caller, profile_id, profile, action="link")
        if not await _link(uow, profile, body, linked_by=f"user:{caller.sub}"):
            response.status_code = 200
            return await _view(uow.conn, profile)
        await profiles.commit_change(uow, profile, profile.state, also_changed=(domain.IDENTITIES,), trigger_type=None)
        return await _view(uow.conn, await store.get_profile(uow.conn, profile_id))


async def _link(uow: UnitOfWork, profile: ProfileRow, body: MappingCreate, *, linked_by: str) -> bool:
    """True when the identity is now linked to the profile; False when it already was.
    Raises 409 when it belongs to another profile."""
    claimed = await store.claim_identity(uow.conn, tenant=profile.tenant, system=body.system,
                                         external_id=body.external_id, profile_id=profile.profile_id, linked_by=linked_by)
    if claimed:
        return True
    owner = await store.profile_of_identity(uow.conn, tenant=profile.tenant, system=body.system, external_id=body.external_id)
    if owner == profile.profile_id:
        return False
    raise Problem(
        409, "identity belongs to another profile",
        f"identity {body.system}:{body.external_id} is linked to profile {owner}; profiles are not merged automatically",
        identity={"system": body.system, "external_id": body.external_id},
        profile_id=profile.profile_id,
        conflicting_profile_id=owner,
    )

