"""Event handlers: holders' export answers and deletion confirmations."""

from __future__ import annotations

from typing import Any

from services.privacy_orchestrator import config, jobs
from services.privacy_orchestrator.domain import DELETION, EXPORT
from summit_common import UnitOfWork
from summit_common.consumer import Incoming, PermanentError
from summit_common.privacy import DELETION_CONFIRMED, EXPORT_ANSWERED
from summit_contracts.events.privacy import DeletionConfirmed, ExportAnswered


async def on_export_answered(event: Incoming[ExportAnswered], uow: UnitOfWork) -> None:
    answer = event.data
    if answer.status == "ok" and answer.sealed is None:
        raise PermanentError("an ok export answer without its sealed records")
    await jobs.record_answer(
        uow, kind=EXPORT, tenant=event.tenant, request_id=answer.job_id, service=answer.service, status=answer.status,
        attempt=answer.attempt, counts=answer.record_counts, error=answer.error,
        sealed=answer.sealed.model_dump(mode="json") if answer.sealed else None, now=config.clock.now())


async def on_deletion_confirmed(event: Incoming[DeletionConfirmed], uow: UnitOfWork) -> None:
    answer = event.data
    await jobs.record_answer(
        uow, kind=DELETION, tenant=event.tenant, request_id=answer.request_id, service=answer.service,
        status=answer.status, attempt=answer.attempt, counts=answer.deleted_counts, error=answer.error, sealed=None,
        now=config.clock.now())


def lock_order(event: Incoming[Any]) -> str:
    """Answers of one batch lock their request rows in id order: no deadlock between replicas."""
    data = event.data
    return getattr(data, "job_id", None) or getattr(data, "request_id", "")


HANDLERS = {EXPORT_ANSWERED: on_export_answered, DELETION_CONFIRMED: on_deletion_confirmed}
