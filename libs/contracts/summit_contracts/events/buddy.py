"""buddy.*: buddy matches, shared events, check-ins and feedback (owner: buddy-service)."""

from datetime import datetime

from pydantic import Field

from summit_contracts.events.common import ExternalRef, FreeText, NonEmpty, Score5
from summit_contracts.registry import EventData, event_type

OWNER = "buddy-service"


@event_type("buddy.match.created.v1", owner=OWNER)
class MatchCreated(EventData):
    """A participant was matched with a buddy."""

    match_id: NonEmpty
    participant: ExternalRef
    buddy: ExternalRef
    matched_at: datetime
    program: str | None = Field(default=None, max_length=100)


@event_type("buddy.event.logged.v1", owner=OWNER)
class EventLogged(EventData):
    """A buddy pair took part in an activity together."""

    event_id: NonEmpty
    match_id: NonEmpty
    participant: ExternalRef
    category: NonEmpty = Field(description="e.g. cultural, sport, language_cafe")
    occurred_at: datetime
    duration_minutes: int | None = Field(default=None, ge=0, le=24 * 60)


@event_type("buddy.checkin.completed.v1", owner=OWNER)
class CheckinCompleted(EventData):
    """A periodic check-in with a participant was completed."""

    checkin_id: NonEmpty
    match_id: NonEmpty
    participant: ExternalRef
    completed_at: datetime
    mood: Score5 | None = None
    notes: FreeText | None = None


@event_type("buddy.feedback.submitted.v1", owner=OWNER)
class FeedbackSubmitted(EventData):
    """A participant or buddy gave feedback about their match."""

    feedback_id: NonEmpty
    match_id: NonEmpty
    participant: ExternalRef
    from_role: NonEmpty = Field(description="participant or buddy")
    rating: Score5 | None = None
    text: FreeText | None = None
    submitted_at: datetime
