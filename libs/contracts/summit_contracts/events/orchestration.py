"""orchestration.*: the unified participant profile and its journey (owner: unified-profile)."""

from datetime import datetime

from pydantic import Field

from summit_contracts.events.common import ExternalRef, NonEmpty
from summit_contracts.registry import EventData, event_type

OWNER = "unified-profile"


@event_type("orchestration.profile.updated.v1", owner=OWNER)
class ProfileUpdated(EventData):
    """A unified profile changed: flags, identities or counters."""

    profile_id: NonEmpty
    version: int = Field(ge=1, description="monotonic per profile; consumers keep the highest")
    flags: dict[str, bool]
    identities: tuple[ExternalRef, ...] = ()
    changed: tuple[str, ...] = Field(default=(), description="names of the fields or flags that changed")


@event_type("orchestration.journey.milestone.reached.v1", owner=OWNER)
class JourneyMilestoneReached(EventData):
    """A journey flag turned on for the first time for a profile."""

    profile_id: NonEmpty
    milestone: NonEmpty
    reached_at: datetime
    trigger_type: str | None = Field(default=None, description="the event type that caused it")
