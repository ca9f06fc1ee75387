"""gateway.*: tenant membership and access decisions at the front door (owner: api-gateway)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from summit_contracts.events.common import NonEmpty
from summit_contracts.registry import EventData, event_type

OWNER = "api-gateway"


@event_type("gateway.membership.changed.v1", owner=OWNER)
class MembershipChanged(EventData):
    """A user joined or left a company (tenant), or their role there changed."""

    user_id: NonEmpty
    company_id: NonEmpty
    change: Literal["added", "removed", "role_changed"]
    role: str | None = Field(default=None, max_length=50)
    changed_at: datetime


@event_type("gateway.access.denied.v1", owner=OWNER)
class AccessDenied(EventData):
    """The gateway refused a request; never carries the request body or the token."""

    actor: str | None = Field(default=None, max_length=200)
    company_id: str | None = Field(default=None, max_length=200)
    method: NonEmpty
    path: str = Field(max_length=2000)
    status: int = Field(ge=400, le=599)
    reason: NonEmpty
    denied_at: datetime
