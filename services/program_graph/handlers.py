"""Event handler of program-graph: governance signals become facts.

Consumes: governance.ci.result.reported.v1, governance.deploy.reported.v1,
governance.slo.reported.v1, governance.docs.coverage.reported.v1,
governance.proposal.decided.v1 (one handler, readiness.fact_of maps each).
Produces: nothing (statuses are computed when asked).
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.program_graph import readiness, store
from summit_common import UnitOfWork
from summit_common.consumer import Incoming, PermanentError


async def on_fact(event: Incoming, uow: UnitOfWork) -> None:
    """Keep the latest fact per (tenant, type, subject, key) and log every one received.
    Both writes are deferred: batched with the rest of the pulled batch at commit."""
    try:
        fact = readiness.fact_of(event.envelope.type, event.data, event_id=event.envelope.id, arrived_at=datetime.now(UTC))
    except readiness.InconsistentFact as exc:
        raise PermanentError(str(exc)) from None
    args = store.fact_args(event.tenant, fact)
    uow.defer(store.UPSERT_FACT, *args)
    uow.defer(store.LOG_FACT, *args[:7], event.envelope.source, event.envelope.id)
