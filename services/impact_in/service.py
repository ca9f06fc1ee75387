"""Declares the impact-in service: delivers a company's impact metrics to Benevity, Goodera
and Workday. Consumes impact.metrics.updated.v1; emits nothing; one worker pushes deliveries."""

from pathlib import Path

from services.impact_in import api, handlers, worker
from summit_common import Service

service = Service(
    name="impact-in",
    description="Delivers impact metrics to partner platforms (Benevity, Goodera, Workday) with a delivery log and replay",
    handlers={handlers.METRICS_UPDATED: handlers.on_metrics_updated},
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    batch_order=handlers.lock_order,
    workers=(worker.delivery_worker,),
    production_secrets=("IMPACT_IN_SECRET_KEY",),
)
