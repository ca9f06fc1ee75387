"""governance.*: change governance over contracts, docs, readiness and delivery.

Owners: schema-council (proposals, deprecations), docs-hub (coverage), blast-radius
(readiness signals), and CI / deploy tooling (results published with `summit publish`).
"""

from datetime import datetime
from typing import Literal

from pydantic import Field

from summit_contracts.events.common import FreeText, NonEmpty
from summit_contracts.registry import EventData, event_type

ContractKind = Literal["jsonschema", "openapi", "asyncapi", "protobuf", "graphql"]


@event_type("governance.proposal.submitted.v1", owner="schema-council")
class ProposalSubmitted(EventData):
    """A contract change proposal entered review."""

    proposal_id: NonEmpty
    kind: ContractKind
    contract: NonEmpty = Field(description="the contract's name, e.g. an event type or an API id")
    owner: NonEmpty
    target_date: datetime | None = None
    breaking: bool = False


@event_type("governance.proposal.decided.v1", owner="schema-council")
class ProposalDecided(EventData):
    """A contract change proposal was approved or rejected."""

    proposal_id: NonEmpty
    kind: ContractKind
    contract: NonEmpty
    decision: Literal["approved", "rejected"]
    breaking: bool
    decided_by: NonEmpty
    decided_at: datetime


@event_type("governance.contract.deprecated.v1", owner="schema-council")
class ContractDeprecated(EventData):
    """A contract version is deprecated; consumers have until `sunset_at` to move."""

    contract: NonEmpty
    version: NonEmpty
    deprecated_at: datetime
    sunset_at: datetime
    replacement: str | None = Field(default=None, max_length=200)
    notice: FreeText | None = None


@event_type("governance.docs.coverage.reported.v1", owner="docs-hub")
class DocsCoverageReported(EventData):
    """Documentation coverage of one service's endpoints and events."""

    service: NonEmpty
    endpoint_coverage: float = Field(ge=0, le=1)
    event_coverage: float = Field(ge=0, le=1)
    commit: str | None = Field(default=None, max_length=64)
    reported_at: datetime


@event_type("governance.ci.result.reported.v1", owner="ci")
class CiResultReported(EventData):
    """A test suite ran for a service (published by CI with `summit publish`)."""

    service: NonEmpty
    suite: NonEmpty
    status: Literal["passed", "failed"]
    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    commit: str | None = Field(default=None, max_length=64)
    reported_at: datetime


@event_type("governance.deploy.reported.v1", owner="ci")
class DeployReported(EventData):
    """A service version was deployed to an environment."""

    service: NonEmpty
    version: NonEmpty
    environment: NonEmpty
    deployed_at: datetime


@event_type("governance.slo.reported.v1", owner="ci")
class SloReported(EventData):
    """Whether a service met one of its SLOs over a window."""

    service: NonEmpty
    slo: NonEmpty
    met: bool
    window: NonEmpty = Field(description="e.g. 30d")
    reported_at: datetime


@event_type("governance.readiness.signaled.v1", owner="blast-radius")
class ReadinessSignaled(EventData):
    """The outcome of an impact assessment, for deploy gates."""

    assessment_id: NonEmpty
    change_kind: NonEmpty
    risk_score: float = Field(ge=0, le=1)
    ready: bool
    affected: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
