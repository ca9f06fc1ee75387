"""upskilling.*: course progress, completions and credentials (owner: upskilling-connector)."""

from datetime import datetime

from pydantic import Field

from summit_contracts.events.common import ExternalRef, NonEmpty
from summit_contracts.registry import EventData, event_type

OWNER = "upskilling-connector"


@event_type("upskilling.course.completed.v1", owner=OWNER)
class CourseCompleted(EventData):
    """A participant completed a course at a learning provider."""

    completion_id: NonEmpty
    participant: ExternalRef
    provider: NonEmpty
    course_id: NonEmpty
    course_name: NonEmpty
    category: str | None = Field(default=None, max_length=50, description="e.g. language, digital, professional")
    completed_at: datetime
    score: float | None = Field(default=None, ge=0, le=100)


@event_type("upskilling.credential.issued.v1", owner=OWNER)
class CredentialIssued(EventData):
    """A provider issued a credential (certificate, badge) to a participant."""

    credential_id: NonEmpty
    participant: ExternalRef
    provider: NonEmpty
    name: NonEmpty
    issued_at: datetime
    expires_at: datetime | None = None
    url: str | None = Field(default=None, max_length=2000)


@event_type("upskilling.progress.updated.v1", owner=OWNER)
class ProgressUpdated(EventData):
    """A participant's progress in a course changed."""

    participant: ExternalRef
    provider: NonEmpty
    course_id: NonEmpty
    percent_complete: float = Field(ge=0, le=100)
    updated_at: datetime
