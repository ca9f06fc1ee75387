"""Summit event contracts.

Installable on its own (`pip install libs/contracts`) so that systems outside this
repository can build and validate events that Summit services accept.
"""

from summit_contracts import events as _events  # noqa: F401  (registers every family)
from summit_contracts.envelope import CloudEvent, EnvelopeError, nats_msg_id, new_event
from summit_contracts.ids import new_id
from summit_contracts.registry import REGISTRY, EventData, EventDataError, EventSpec, UnknownEventType, event_type

__all__ = [
    "REGISTRY",
    "CloudEvent",
    "EnvelopeError",
    "EventData",
    "EventDataError",
    "EventSpec",
    "UnknownEventType",
    "event_type",
    "nats_msg_id",
    "new_event",
    "new_id",
]
