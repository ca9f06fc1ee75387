"""Stores normalised Kintell records and emits their events, inside the caller's unit of work.

Consumes: `SessionRecord`s / `Rating`s from domain.py (from a CSV import or a webhook).
Produces: rows in kintell_sessions / kintell_ratings, and via the outbox
kintell.session.scheduled.v1, kintell.session.completed.v1, kintell.rating.created.v1
(subject = the session id), only for what is new, so a repeated delivery emits nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from services.kintell_connector import domain, store
from services.kintell_connector.domain import Decision, Rating, RowError, SessionRecord
from summit_common import UnitOfWork

SCHEDULED = "kintell.session.scheduled.v1"
COMPLETED = "kintell.session.completed.v1"
RATED = "kintell.rating.created.v1"
EMITS = (SCHEDULED, COMPLETED, RATED)


class Outcome(Enum):
    ACCEPTED = "accepted"  # stored something new
    DUPLICATE = "duplicate"  # nothing new (same or older news)
    REJECTED = "rejected"  # conflicts with what is stored


@dataclass
class RowOutcome:
    line: int | None
    session_id: str
    outcome: Outcome
    changed: str | None = None  # "inserted" | "advanced" when the session row changed
    errors: list[RowError] = field(default_factory=list)


async def ingest_sessions(
    uow: UnitOfWork, tenant: str, records: Sequence[tuple[int | None, SessionRecord]], *, origin: str,
    import_id: str | None = None,
) -> list[RowOutcome]:
    """Apply records in order; one outcome per record."""
    conn = uow.conn
    await store.lock_tenant(conn, tenant)
    stored = await store.session_statuses(conn, tenant, [r.session_id for _, r in records])
    steps = domain.plan_sessions(records, stored)

    inserts = [s.record for s in steps if s.decision is Decision.INSERT]
    advances = [s.record for s in steps if s.decision is Decision.ADVANCE]
    inserted = await store.insert_sessions(conn, tenant, inserts, origin=origin, import_id=import_id)
    advanced = await store.advance_sessions(conn, tenant, advances, origin=origin, import_id=import_id)

    # A rating can be new even when its session is not (e.g. a re-export after the learner rated).
    ratings: dict[str, Rating] = {}
    for step in steps:
        if step.decision in (Decision.INSERT, Decision.ADVANCE, Decision.SAME):
            for rating in step.record.ratings:
                ratings.setdefault(rating.rating_id, rating)
    new_ratings = await store.insert_ratings(conn, tenant, list(ratings.values()), origin=origin)

    outcomes = []
    for step in steps:
        record = step.record
        row = RowOutcome(step.line, record.session_id, Outcome.DUPLICATE)
        if step.decision is Decision.CONFLICT:
            row.outcome, row.errors = Outcome.REJECTED, [step.conflict()]
            outcomes.append(row)
            continue
        if step.decision is Decision.INSERT and record.session_id in inserted:
            row.changed = "inserted"
            if record.status == "scheduled":
                uow.emit(SCHEDULED, domain.scheduled_event(record), subject=record.session_id)
        elif step.decision is Decision.ADVANCE and record.session_id in advanced:
            row.changed = "advanced"
        if row.changed and record.status == "completed":
            uow.emit(COMPLETED, domain.completed_event(record), subject=record.session_id)
        for rating in record.ratings:
            if rating.rating_id in new_ratings:
                new_ratings.discard(rating.rating_id)  # emit once even if the file repeats it
                uow.emit(RATED, domain.rating_event(rating), subject=rating.session_id)
                row.changed = row.changed or "rated"
        if row.changed:
            row.outcome = Outcome.ACCEPTED
        outcomes.append(row)
    return outcomes


class RatingRejected(Exception):
    """The rating cannot be stored yet or at all; the message says why."""


async def ingest_rating(uow: UnitOfWork, tenant: str, submission: domain.RatingSubmission, *, origin: str) -> tuple[Rating, bool]:
    """Store a rating for a stored, completed session. Returns (rating, stored_now)."""
    conn = uow.conn
    await store.lock_tenant(conn, tenant)
    session = await store.load_session(conn, tenant, submission.session_id)
    if session is None:
        raise RatingRejected(f"session {submission.session_id} is not known yet; deliver the session first")
    try:
        rating = domain.rating_for_session(submission, session)
    except domain.FieldError as exc:
        raise RatingRejected(str(exc)) from None
    stored_now = bool(await store.insert_ratings(conn, tenant, [rating], origin=origin))
    if stored_now:
        uow.emit(RATED, domain.rating_event(rating), subject=rating.session_id)
    return rating, stored_now
