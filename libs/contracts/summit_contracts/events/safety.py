"""safety.*: screening of free text and human review (owner: safety-moderation)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from summit_contracts.events.common import FreeText, NonEmpty
from summit_contracts.registry import EventData, event_type

OWNER = "safety-moderation"
Severity = Literal["low", "medium", "high", "critical"]


@event_type("safety.flag.raised.v1", owner=OWNER)
class FlagRaised(EventData):
    """Screened text matched a safety policy rule and is held for review."""

    flag_id: NonEmpty
    content_type: NonEmpty = Field(description="the event type that carried the text")
    content_id: NonEmpty = Field(description="id of the record that holds the text")
    category: NonEmpty = Field(description="e.g. self_harm, abuse, pii_leak")
    severity: Severity
    rule_id: NonEmpty
    excerpt: FreeText | None = Field(default=None, description="masked excerpt, never raw PII")


@event_type("safety.review.completed.v1", owner=OWNER)
class ReviewCompleted(EventData):
    """A reviewer decided on a flagged item."""

    flag_id: NonEmpty
    content_id: NonEmpty
    decision: Literal["approved", "rejected", "escalated"]
    reviewer: NonEmpty
    reviewed_at: datetime
    reason: FreeText | None = None


@event_type("safety.text.screened.v1", owner=OWNER)
class TextScreened(EventData):
    """A free-text item was screened. `held` items wait for a review decision before any
    downstream use (q2q-ai scores only `clear` items, or `held` ones later approved)."""

    content_type: NonEmpty = Field(description="the event type that carried the text")
    content_id: NonEmpty = Field(description="id of the record that holds the text")
    verdict: Literal["clear", "held"]
    flag_id: str | None = Field(default=None, description="set when held")
    policy_version: NonEmpty
    screened_at: datetime
