"""kintell.*: language and mentorship sessions and their ratings (owner: kintell-connector)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from summit_contracts.events.common import ExternalRef, FreeText, NonEmpty, Score5
from summit_contracts.registry import EventData, event_type

OWNER = "kintell-connector"
SessionType = Literal["language", "mentorship"]


@event_type("kintell.session.scheduled.v1", owner=OWNER)
class SessionScheduled(EventData):
    """A Kintell session was booked for a participant and a volunteer."""

    session_id: NonEmpty
    session_type: SessionType
    participant: ExternalRef
    volunteer: ExternalRef
    scheduled_at: datetime
    language: str | None = Field(default=None, max_length=35)


@event_type("kintell.session.completed.v1", owner=OWNER)
class SessionCompleted(EventData):
    """A Kintell session took place and was completed."""

    session_id: NonEmpty
    session_type: SessionType
    participant: ExternalRef
    volunteer: ExternalRef
    started_at: datetime
    duration_minutes: int = Field(ge=0, le=24 * 60)
    language: str | None = Field(default=None, max_length=35)
    level: str | None = Field(default=None, max_length=20, description="CEFR level where known, e.g. B1")
    topics: tuple[str, ...] = ()
    notes: FreeText | None = None


@event_type("kintell.rating.created.v1", owner=OWNER)
class RatingCreated(EventData):
    """Someone rated a completed Kintell session."""

    rating_id: NonEmpty
    session_id: NonEmpty
    rated_by: ExternalRef
    rater_role: Literal["participant", "volunteer"]
    score: Score5
    comment: FreeText | None = None
    created_at: datetime
