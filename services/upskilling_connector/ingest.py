"""Stores parsed provider records and emits their events, inside the caller's unit of work.

Consumes: the `ParsedRow`s of one import (domain.py / providers/).
Produces: rows in completions / credentials / progress and, via the transactional outbox,
upskilling.course.completed.v1, upskilling.credential.issued.v1 and upskilling.progress.updated.v1,
only for what is new, so a repeated import emits nothing. One `Outcome` per row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from services.upskilling_connector import domain, store
from services.upskilling_connector.domain import Completion, Credential, Outcome, ParsedRow, Progress
from summit_common import UnitOfWork


async def ingest(uow: UnitOfWork, *, tenant: str, import_id: str,
                 rows: Sequence[ParsedRow]) -> tuple[list[Outcome], Counter[str]]:
    """Apply the rows of one import in file order. Returns (outcome per row, events emitted per type)."""
    conn = uow.conn
    await store.lock_tenant(conn, tenant=tenant)

    completions = domain.first_occurrences(r for r in rows if isinstance(r, Completion))
    credentials = domain.first_occurrences(r for r in rows if isinstance(r, Credential))
    new_completions = await store.insert_completions(conn, tenant=tenant, records=list(completions.values()),
                                                     import_id=import_id)
    new_credentials = await store.insert_credentials(conn, tenant=tenant, records=list(credentials.values()),
                                                     import_id=import_id)

    progress = [r for r in rows if isinstance(r, Progress)]
    stored = await store.progress_state(conn, tenant=tenant, progress_ids=[p.progress_id for p in progress])
    announce, final = domain.plan_progress(progress, stored)
    # Newer news is stored even when the percentage is the same (only its time moves on); only a
    # new or changed percentage is announced.
    await store.upsert_progress(conn, tenant=tenant, records=list(final.values()), import_id=import_id)
    announcements = iter(announce)

    outcomes: list[Outcome] = []
    emitted: Counter[str] = Counter()

    def emit(event_type: str, data: dict, subject: str) -> None:
        uow.emit(event_type, data, subject=subject)
        emitted[event_type] += 1

    for row in rows:
        known = domain.outcome_of_parse(row)
        if known is not None:
            outcomes.append(known)
        elif isinstance(row, Completion):
            # Only the first row with an id is stored; its later copies in the file are duplicates.
            new = row.completion_id in new_completions and completions[row.completion_id] is row
            if new:
                emit(domain.COMPLETED, domain.completed_event(row), row.completion_id)
            outcomes.append(Outcome.ACCEPTED if new else Outcome.DUPLICATE)
        elif isinstance(row, Credential):
            new = row.credential_id in new_credentials and credentials[row.credential_id] is row
            if new:
                emit(domain.CREDENTIAL_ISSUED, domain.credential_event(row), row.credential_id)
            outcomes.append(Outcome.ACCEPTED if new else Outcome.DUPLICATE)
        elif isinstance(row, Progress):
            if next(announcements):
                emit(domain.PROGRESS_UPDATED, domain.progress_event(row), row.progress_id)
                outcomes.append(Outcome.ACCEPTED)
            else:
                outcomes.append(Outcome.DUPLICATE)
        else:  # pragma: no cover - ParsedRow is closed
            raise TypeError(f"unexpected row {type(row).__name__}")
    return outcomes, emitted
