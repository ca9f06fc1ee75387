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
    observed_at: datetime | None = Field(
        default=None, description="when the scored text was written: the period the outcome counts towards (scored_at when absent)")


@event_type("q2q.evidence.recorded.v1", owner=OWNER)
class EvidenceRecorded(EventData):
    """A masked sentence that a score cites was stored; reporting builds its evidence explorer from these."""

    evidence_id: NonEmpty
    participant: ExternalRef
    program: NonEmpty = Field(description="the programme the text came from: buddy, kintell or upskilling")
    snippet: str = Field(min_length=1, max_length=2_000, description="masked: no emails, phones or names")
    snippet_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    dimensions: tuple[Dimension, ...] = Field(default=(), description="the outcome dimensions whose scores cite it")
    source_type: NonEmpty
    source_id: NonEmpty
    observed_at: datetime
