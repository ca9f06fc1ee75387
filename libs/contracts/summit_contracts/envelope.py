"""The CloudEvents 1.0 envelope in structured JSON mode.

Every event on the bus is one of these. Required attributes are `specversion`, `id`,
`source` and `type`; Summit always sets `time`, `datacontenttype` and the extensions
`tenantid`, `correlationid`, `causationid` and `traceparent`. Unknown extension
attributes are kept, so events from any CloudEvents SDK round-trip unchanged.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from summit_contracts.ids import new_id

# CloudEvents: extension names are lower-case alphanumeric, at most 20 characters.
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")


class EnvelopeError(ValueError):
    """The bytes are not a valid CloudEvents 1.0 structured JSON event."""


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event. `data` is the raw JSON payload (validated per type elsewhere)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime | None = None
    subject: str | None = None
    datacontenttype: str | None = "application/json"
    dataschema: str | None = None
    tenantid: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    traceparent: str | None = None
    data: Any = None

    @field_validator("specversion")
    @classmethod
    def _only_1_0(cls, value: str) -> str:
        if value != "1.0":
            raise ValueError(f"specversion must be '1.0', got {value!r}")
        return value

    @property
    def identity(self) -> tuple[str, str]:
        """CloudEvents identity: (source, id)."""
        return (self.source, self.id)

    @cached_property
    def msg_id(self) -> str:
        """The de-duplication key used for `Nats-Msg-Id` and for the inbox."""
        return nats_msg_id(self.source, self.id)

    def extensions(self) -> dict[str, Any]:
        """Extension attributes beyond the ones this model names."""
        return dict(self.model_extra or {})

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        """Parse structured-mode JSON, raising EnvelopeError with a readable reason."""
        try:
            event = cls.model_validate_json(raw)
        except ValidationError as exc:
            raise EnvelopeError(_describe(exc)) from None
        if "data_base64" in (event.model_extra or {}):
            raise EnvelopeError("binary data (data_base64) is not accepted; send JSON data")
        for name in event.model_extra or {}:
            if not _EXTENSION_NAME.match(name):
                raise EnvelopeError(f"invalid extension attribute name {name!r}")
        return event


def nats_msg_id(source: str, event_id: str) -> str:
    """Hash of (source, id): distinct sources never collide, equal pairs always do."""
    return hashlib.sha256(f"{source}\x1f{event_id}".encode()).hexdigest()[:40]


def new_event(
    type: str,
    data: Any,
    *,
    source: str,
    tenantid: str,
    subject: str | None = None,
    correlationid: str | None = None,
    causationid: str | None = None,
    traceparent: str | None = None,
) -> CloudEvent:
    """Mint a Summit event: UUIDv7 id, current UTC time, correlation defaulting to the id."""
    event_id = new_id()
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    # model_construct: every attribute here is produced by this function, so skip re-validation.
    return CloudEvent.model_construct(
        specversion="1.0",
        datacontenttype="application/json",
        dataschema=None,
        id=event_id,
        source=source,
        type=type,
        time=datetime.now(UTC),
        subject=subject,
        tenantid=tenantid,
        correlationid=correlationid or event_id,
        causationid=causationid,
        traceparent=traceparent,
        data=data,
    )


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return f"malformed JSON: {first.get('ctx', {}).get('error', first.get('msg'))}"
    if first.get("type") == "model_type":
        return "a CloudEvent must be a JSON object"
    return _first_errors(exc)


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
