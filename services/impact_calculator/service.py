"""Declares the impact-calculator service: SROI and VIS per company and period.

Consumes: course completions, credentials, milestones, q2q outcome scores, Kintell sessions and ratings.
Emits: impact.metrics.updated.v1.
"""

from pathlib import Path

from services.impact_calculator import api, calculator, handlers, privacy
from summit_common import Service

service = Service(
    name="impact-calculator",
    description="SROI and volunteer impact score per company and period, with lineage",
    handlers=dict.fromkeys(handlers.CONSUMED, handlers.on_event),
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=(calculator.METRICS_UPDATED,),
    batch_order=handlers.lock_order,
    personal_data=privacy.PERSONAL_DATA,
)
