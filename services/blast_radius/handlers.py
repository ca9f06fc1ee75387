"""Event handler of blast-radius.

Consumes: governance.proposal.decided.v1 (keeps the latest decision per proposal).
Produces: governance.readiness.signaled.v1 again for an assessment whose readiness flips
because of the decision (e.g. a breaking change waiting for approval becomes ready).
"""

from __future__ import annotations

from services.blast_radius import domain, store
from summit_common import UnitOfWork
from summit_common.consumer import Incoming
from summit_contracts.events.governance import ProposalDecided

REEVALUATE_LIMIT = 500  # the most recent assessments naming one proposal that a decision re-evaluates


async def on_proposal_decided(event: Incoming[ProposalDecided], uow: UnitOfWork) -> None:
    data = event.data
    stored = await store.upsert_proposal(
        uow.conn, tenant=event.tenant, proposal_id=data.proposal_id, kind=data.kind, contract=data.contract,
        decision=data.decision, breaking=data.breaking, decided_by=data.decided_by, decided_at=data.decided_at,
        event_id=event.envelope.id,
    )
    if not stored:
        return  # an older (or the same) decision than the one we hold: nothing changes
    waiting = await store.lock_assessments_naming(uow.conn, tenant=event.tenant, proposal_id=data.proposal_id, limit=REEVALUATE_LIMIT)
    for row in waiting:
        decisions = await store.decisions(uow.conn, tenant=event.tenant, proposal_ids=row["proposal_ids"])
        state = domain.readiness(risk=row["risk_score"], threshold=row["threshold"], breaking=row["breaking"], decisions=decisions)
        flipped = state.ready != row["ready"]
        if not flipped and state.as_dict() == row["readiness"]:
            continue
        await store.update_readiness(uow.conn, assessment_id=row["assessment_id"], readiness=state.as_dict(), signalled=flipped)
        if flipped:
            uow.emit(domain.READINESS_SIGNALED, domain.readiness_signal(
                assessment_id=row["assessment_id"], change_kind=row["change_kind"], risk=row["risk_score"],
                state=state, affected=row["affected"]), subject=row["assessment_id"])
