"""Event handler of the unified profile.

Consumes: every event type in `domain.RULES` (kintell.*, buddy.*, upskilling.*).
Produces: orchestration.profile.updated.v1 and orchestration.journey.milestone.reached.v1
(via `profiles.commit_change`, in the batch's transaction).
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.unified_profile import domain, profiles, store
from summit_common import UnitOfWork
from summit_common.consumer import Incoming


async def on_journey_event(event: Incoming, uow: UnitOfWork) -> None:
    """One handler for every input type: the rule table in domain.py says what each one means."""
    event_type = event.envelope.type
    participant = domain.participant_of(event_type, event.data)
    if participant is None:
        return  # e.g. a volunteer's rating: no participant journey to update
    profile_id, created = await profiles.resolve_identity(
        uow, tenant=event.tenant, system=participant.system, external_id=participant.id, linked_by=f"event:{event_type}"
    )
    # Row lock until commit: other consumers and replicas updating this profile wait here.
    profile = await profiles.lock(uow, profile_id)
    fact = domain.fact_key(event_type, event.data)
    if fact is not None and not await store.record_fact(uow.conn, profile_id=profile_id, fact_key=fact, event_id=event.envelope.id):
        return  # the same business fact under a new event id: nothing changes, nothing is emitted
    after = domain.apply_event(profile.state, event_type, event.data)
    await profiles.commit_change(
        uow,
        profile,
        after,
        also_changed=(domain.IDENTITIES,) if created else (),
        trigger_type=event_type,
        at=event.envelope.time or datetime.now(UTC),
    )


def lock_order(event: Incoming) -> str:
    """Batches handle events in participant order, so replicas lock profiles in one order.
    (The chassis does not apply it to the data-subject requests it handles.)"""
    participant = domain.participant_of(event.envelope.type, event.data)
    return f"{participant.system}:{participant.id}" if participant else ""
