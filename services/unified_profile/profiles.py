"""Changing a profile inside a unit of work: shared by the event handlers and the HTTP commands.

Produces (through uow.emit, so they commit with the state: transactional outbox):
- orchestration.profile.updated.v1 after every change, with the profile's next version;
- orchestration.journey.milestone.reached.v1 the first time ever a flag turns on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from services.unified_profile import domain, store
from services.unified_profile.store import ProfileRow
from summit_common import UnitOfWork
from summit_contracts import new_id

PROFILE_UPDATED = "orchestration.profile.updated.v1"
MILESTONE_REACHED = "orchestration.journey.milestone.reached.v1"


async def resolve_identity(uow: UnitOfWork, *, tenant: str, system: str, external_id: str, linked_by: str) -> tuple[str, bool]:
    """The profile an identity belongs to, creating one for an unknown identity.
    Returns (profile_id, created). Safe against a concurrent creation of the same identity."""
    existing = await store.profile_of_identity(uow.conn, tenant=tenant, system=system, external_id=external_id)
    if existing is not None:
        return existing, False
    candidate = new_id()
    if await store.claim_identity(uow.conn, tenant=tenant, system=system, external_id=external_id,
                                  profile_id=candidate, linked_by=linked_by):
        await store.insert_profile(uow.conn, tenant=tenant, profile_id=candidate)
        return candidate, True
    # Another transaction claimed it first and has committed by now (the claim waited for it).
    winner = await store.profile_of_identity(uow.conn, tenant=tenant, system=system, external_id=external_id)
    if winner is None:
        raise RuntimeError(f"identity {system}:{external_id} was claimed concurrently but is not visible")
    return winner, False


async def lock(uow: UnitOfWork, profile_id: str) -> ProfileRow:
    profile = await store.lock_profile(uow.conn, profile_id)
    if profile is None:
        raise RuntimeError(f"profile {profile_id} vanished inside its transaction")
    return profile


async def commit_change(
    uow: UnitOfWork,
    profile: ProfileRow,
    after: domain.ProfileState,
    *,
    also_changed: Sequence[str] = (),
    trigger_type: str | None,
    at: datetime | None = None,
) -> int | None:
    """Save `after` for a profile locked by this transaction and emit what changed.
    Returns the new version, or None when nothing changed (then nothing is emitted)."""
    changed = (*also_changed, *domain.changed_names(profile.state, after))
    if not changed:
        return None
    version = profile.version + 1
    await store.save_profile(uow.conn, profile.profile_id, version=version, state=after)
    identities = (await store.identities_of(uow.conn, [profile.profile_id]))[profile.profile_id]
    uow.emit(
        PROFILE_UPDATED,
        {
            "profile_id": profile.profile_id,
            "version": version,
            "flags": dict(after.flags),
            "identities": [{"system": i["system"], "id": i["external_id"]} for i in identities],
            "changed": list(changed),
        },
        subject=profile.profile_id,
        tenant=profile.tenant,
    )
    reached_at = at or datetime.now(UTC)
    for milestone in domain.turned_on(profile.state, after):
        # The milestones table remembers every flag that was ever on: off-and-on again is not a new milestone.
        if await store.record_milestone(uow.conn, profile_id=profile.profile_id, milestone=milestone,
                                        reached_at=reached_at, trigger_type=trigger_type):
            uow.emit(
                MILESTONE_REACHED,
                {"profile_id": profile.profile_id, "milestone": milestone, "reached_at": reached_at,
                 "trigger_type": trigger_type},
                subject=profile.profile_id,
                tenant=profile.tenant,
            )
    return version
