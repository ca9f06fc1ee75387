"""q2q.*: qualitative text turned into outcome scores (owner: q2q-ai)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from summit_contracts.events.common import ExternalRef, NonEmpty
from summit_contracts.registry import EventData, event_type

OWNER = "q2q-ai"
Dimension = Literal["confidence", "belonging", "language_level_proxy", "job_readiness"]


@event_type("q2q.outcome.scored.v1", owner=OWNER)
class OutcomeScored(EventData):
    """A text was scored on one outcome dimension, citing the evidence it rests on."""

    score_id: NonEmpty
    participant: ExternalRef
    dimension: Dimension
    value: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)
    evidence_ids: tuple[str, ...] = Field(min_length=1)
    source_type: NonEmpty = Field(description="the event type that carried the text")
    source_id: NonEmpty = Field(description="id of the record that holds the text")
    model_version: NonEmpty
    scored_at: datetime
