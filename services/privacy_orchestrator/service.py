"""Declares privacy-orchestrator: DSAR export and deletion fanned out to every holder of personal data.

Consumes: privacy.export.answered.v1, privacy.deletion.confirmed.v1.
Emits: privacy.export.requested.v1, privacy.deletion.requested.v1.
"""

from pathlib import Path

from services.privacy_orchestrator import api, handlers, worker
from summit_common import Service
from summit_common.privacy import DELETION_REQUESTED, EXPORT_REQUESTED

service = Service(
    name="privacy-orchestrator",
    description="DSAR export bundles and cancellable deletions across every service that holds personal data",
    handlers=handlers.HANDLERS,
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=(EXPORT_REQUESTED, DELETION_REQUESTED),
    batch_order=handlers.lock_order,
    workers=(worker.ticker,),
    production_secrets=("PRIVACY_MASTER_KEY",),
)
