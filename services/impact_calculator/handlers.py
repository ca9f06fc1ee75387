"""Event handlers: record the contributing fact (with its event id), then recompute the
company-periods (quarter and month) it falls in once per pulled batch, in the batch's transaction.

Consumes: upskilling.course.completed.v1, upskilling.credential.issued.v1,
orchestration.journey.milestone.reached.v1, q2q.outcome.scored.v1,
kintell.session.completed.v1, kintell.rating.created.v1.
Emits: impact.metrics.updated.v1 (via calculator.recompute) when a figure changes.
"""

from __future__ import annotations

from typing import Any

from services.impact_calculator import calculator, domain, store
from summit_common import UnitOfWork
from summit_common.consumer import Incoming


def _ref(ref) -> str:
    return f"{ref.system}:{ref.id}"


def fact_of(event_type: str, d: Any) -> dict[str, Any] | None:
    """The fact an event contributes (business key, kind, timestamp, figures); None: nothing to count."""
    if event_type == "upskilling.course.completed.v1":
        return {"fact_key": f"course:{d.completion_id}", "kind": domain.COURSE, "occurred_at": d.completed_at,
                "label": d.category, "value": d.score, "participant": _ref(d.participant)}
    if event_type == "upskilling.credential.issued.v1":
        return {"fact_key": f"credential:{d.credential_id}", "kind": domain.CREDENTIAL, "occurred_at": d.issued_at,
                "label": d.name, "participant": _ref(d.participant)}
    if event_type == "orchestration.journey.milestone.reached.v1":
        return {"fact_key": f"milestone:{d.profile_id}:{d.milestone}", "kind": domain.MILESTONE,
                "occurred_at": d.reached_at, "label": d.milestone, "participant": f"profile:{d.profile_id}"}
    if event_type == "q2q.outcome.scored.v1":
        # An outcome counts towards the period its text was written in (an import of last
        # year's feedback scored today is last year's outcome).
        return {"fact_key": f"score:{d.score_id}", "kind": domain.SCORE, "occurred_at": d.observed_at or d.scored_at,
                "label": d.dimension, "value": d.value, "participant": _ref(d.participant),
                "evidence_ids": list(d.evidence_ids)}
    if event_type == "kintell.session.completed.v1":
        return {"fact_key": f"session:{d.session_id}", "kind": domain.SESSION, "occurred_at": d.started_at,
                "value": float(d.duration_minutes), "participant": _ref(d.participant),
                "volunteer": _ref(d.volunteer), "session_id": d.session_id}
    if event_type == "kintell.rating.created.v1":
        if d.rater_role != "participant":
            return None  # VIS uses the participants' view of their volunteer only
        return {"fact_key": f"rating:{d.rating_id}", "kind": domain.RATING, "occurred_at": d.created_at,
                "value": float(d.score), "participant": _ref(d.rated_by), "session_id": d.session_id}
    return None


CONSUMED = (
    "upskilling.course.completed.v1", "upskilling.credential.issued.v1", "orchestration.journey.milestone.reached.v1",
    "q2q.outcome.scored.v1", "kintell.session.completed.v1", "kintell.rating.created.v1",
)


async def on_event(event: Incoming, uow: UnitOfWork) -> None:
    fact = fact_of(event.envelope.type, event.data)
    if fact is None:
        return
    company = event.tenant
    periods = list(domain.periods_of(fact["occurred_at"]))  # (quarter, month): locked in this order
    await store.lock_company_periods(uow.conn, company=company, periods=periods)
    fresh = await store.record_fact(uow.conn, company=company, event_id=event.envelope.id,
                                    event_type=event.envelope.type, **fact)
    if not fresh:
        return  # the same business fact under another event id: counted once
    for period in periods:
        # Once per company-period per pulled batch, after every fact of the batch is recorded.
        uow.once_before_commit(f"recompute|{company}|{period}", _recompute(company, period))


def _recompute(company: str, period: str):
    async def work(uow: UnitOfWork) -> None:
        await calculator.recompute(uow, company=company, period=period)

    return work


def lock_order(event: Incoming) -> str:
    """Batches handle events in (company, quarter, month) order and each event locks its quarter
    then its month: every transaction takes the advisory locks in one global order (no deadlock)."""
    fact = fact_of(event.envelope.type, event.data)
    if fact is None:
        return ""
    quarter, month = domain.periods_of(fact["occurred_at"])
    return f"{event.tenant}|{quarter}|{month}"
