"""privacy.*: data-subject requests (DSAR) fanned out to every service that holds personal data.

The contracts are owned by privacy-orchestrator; every service that declares personal
data (summit_common.privacy.PersonalData) answers the requests through the chassis.
Export answers travel sealed to a public key minted for the job, so no personal data
crosses the bus in clear.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from summit_contracts.events.common import ExternalRef, NonEmpty
from summit_contracts.registry import EventData, event_type

OWNER = "privacy-orchestrator"
ServiceName = NonEmpty


class DataSubject(BaseModel):
    """The person a request is about, as each source system knows them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    refs: tuple[ExternalRef, ...] = Field(min_length=1, max_length=50)


class SealedBox(BaseModel):
    """X25519 + HKDF-SHA256 + AES-256-GCM, sealed to the job's public key (all base64)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ephemeral_public_key: NonEmpty
    nonce: NonEmpty
    ciphertext: str = Field(min_length=1)


@event_type("privacy.export.requested.v1", owner=OWNER)
class ExportRequested(EventData):
    """Send everything you hold about this subject, sealed to `reply_public_key`."""

    job_id: NonEmpty
    subject: DataSubject
    reply_public_key: NonEmpty = Field(description="base64 raw X25519 public key minted for this job")
    services: tuple[ServiceName, ...] = Field(default=(), description="empty: every holder; else only these (a retry)")
    attempt: int = Field(default=1, ge=1)
    requested_at: datetime


@event_type("privacy.export.answered.v1", owner=OWNER)
class ExportAnswered(EventData):
    """One holder's answer to an export request."""

    job_id: NonEmpty
    service: ServiceName
    status: Literal["ok", "failed"]
    record_counts: dict[str, int] = Field(default_factory=dict, description="records per data category")
    sealed: SealedBox | None = Field(default=None, description="the records, present when status is ok")
    error: str | None = Field(default=None, max_length=500, description="why it failed, never personal data")
    attempt: int = Field(default=1, ge=1)
    answered_at: datetime


@event_type("privacy.deletion.requested.v1", owner=OWNER)
class DeletionRequested(EventData):
    """Erase everything you hold about this subject (its cancellation window has passed)."""

    request_id: NonEmpty
    subject: DataSubject
    services: tuple[ServiceName, ...] = Field(default=(), description="empty: every holder; else only these (a retry)")
    attempt: int = Field(default=1, ge=1)
    requested_at: datetime


@event_type("privacy.deletion.confirmed.v1", owner=OWNER)
class DeletionConfirmed(EventData):
    """One holder erased the subject's data (status ok) or could not (status failed)."""

    request_id: NonEmpty
    service: ServiceName
    status: Literal["ok", "failed"]
    deleted_counts: dict[str, int] = Field(default_factory=dict, description="records erased per data category")
    error: str | None = Field(default=None, max_length=500, description="why it failed, never personal data")
    attempt: int = Field(default=1, ge=1)
    confirmed_at: datetime
