"""impact.*: social value figures per company and period (owner: impact-calculator)."""

from datetime import datetime

from pydantic import Field

from summit_contracts.events.common import NonEmpty
from summit_contracts.registry import EventData, event_type


@event_type("impact.metrics.updated.v1", owner="impact-calculator")
class MetricsUpdated(EventData):
    """SROI and VIS for one company and period were (re)computed."""

    company_id: NonEmpty
    period: NonEmpty = Field(description="e.g. 2026-Q1 or 2026-03")
    metric_id: NonEmpty = Field(description="id of the stored result; its lineage is at GET /v1/lineage/{metric_id}")
    sroi_ratio: float | None = Field(default=None, description="None while no investment is recorded")
    social_value: float = Field(ge=0)
    investment: float | None = Field(default=None, ge=0)
    vis_score: float = Field(ge=0, le=100)
    config_version: NonEmpty
    computed_at: datetime
