"""Event handlers: thin; they keep local projections of q2q evidence and impact metrics.

Consumes: q2q.evidence.recorded.v1, impact.metrics.updated.v1. Emits nothing.
"""

from __future__ import annotations

import hashlib

from services.reporting import config, domain, store
from summit_common import UnitOfWork
from summit_common.consumer import Incoming, PermanentError
from summit_contracts.events.impact import MetricsUpdated
from summit_contracts.events.q2q import EvidenceRecorded

EVIDENCE_RECORDED = "q2q.evidence.recorded.v1"
METRICS_UPDATED = "impact.metrics.updated.v1"


async def on_evidence(event: Incoming[EvidenceRecorded], uow: UnitOfWork) -> None:
    d = event.data
    if hashlib.sha256(d.snippet.encode()).hexdigest() != d.snippet_sha256:
        raise PermanentError("snippet_sha256 is not the sha256 of the snippet")
    who = domain.pseudonym(config.settings().pseudonym_key, event.tenant, d.participant.system, d.participant.id)
    await store.insert_evidence(
        uow.conn, tenant=event.tenant, evidence_id=d.evidence_id, participant=who, program=d.program, snippet=d.snippet,
        snippet_sha256=d.snippet_sha256, dimensions=d.dimensions, source_type=d.source_type, source_id=d.source_id,
        observed_at=d.observed_at, event_id=event.envelope.id)


async def on_metrics(event: Incoming[MetricsUpdated], uow: UnitOfWork) -> None:
    d = event.data
    if d.company_id != event.tenant:
        raise PermanentError("company_id differs from the event's tenant")
    await store.record_metrics(uow.conn, tenant=event.tenant, event_id=event.envelope.id, m=d.model_dump())
