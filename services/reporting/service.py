"""Declares the reporting service: evidence explorer, metric snapshots and lineage, generated
reports with PDF/PPTX exports, saved views, share links, schedules and live metric updates.

Consumes: q2q.evidence.recorded.v1, impact.metrics.updated.v1 (+ the chassis's DSAR requests).
Emits: only the chassis's DSAR answers.
Injectable per runtime (see deps.py): app.state.clock, .impact_client, .generator, .reporting_settings.
"""

from pathlib import Path

from services.reporting import api, handlers, privacy, scheduler, sse
from summit_common import Service
from summit_common.privacy import PersonalData

service = Service(
    name="reporting",
    description="Evidence explorer, metric lineage, generated reports (PDF/PPTX), share links, schedules, live metrics",
    handlers={handlers.EVIDENCE_RECORDED: handlers.on_evidence, handlers.METRICS_UPDATED: handlers.on_metrics},
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    workers=(scheduler.scheduler_worker, sse.hub_worker),
    personal_data=PersonalData(categories=privacy.CATEGORIES, export=privacy.export_subject, erase=privacy.erase_subject),
    production_secrets=("REPORTING_PSEUDONYM_KEY", "REPORTING_SHARE_LINK_SECRET"),
)
