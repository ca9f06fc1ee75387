"""Stores validated buddy records and emits their events, inside the caller's unit of work.

Consumes: `domain.Parsed` sections (from a CSV or a JSON import), one per record kind.
Produces: rows in buddy_matches / buddy_events / buddy_checkins / buddy_feedback and, via the
outbox in the same transaction, buddy.match.created.v1, buddy.event.logged.v1,
buddy.checkin.completed.v1, buddy.feedback.submitted.v1 (subject = the record id), only for
rows that are new, so a repeated import emits nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from services.buddy_service import domain, store
from services.buddy_service.domain import MATCHES, Outcome, Parsed, Planned
from summit_common import UnitOfWork

EMITS = domain.EMITS


async def ingest(
    uow: UnitOfWork, *, tenant: str, sections: Sequence[Parsed], origin: str, import_id: str,
) -> list[tuple[Parsed, list[Planned]]]:
    """Apply each kind in dependency order (matches first, so records in the same request can
    refer to them). Returns every row's outcome, invalid rows included, per section."""
    conn = uow.conn
    await store.lock_tenant(conn, tenant=tenant)
    rejected_matches: set[str] = set()
    results: list[tuple[Parsed, list[Planned]]] = []
    for parsed in sorted(sections, key=lambda p: domain.KINDS.index(p.kind)):
        kind, spec = parsed.kind, domain.SPECS[parsed.kind]
        records = [record for _, _, record in parsed.items]
        stored = await store.load_records(conn, kind=kind, tenant=tenant, ids=[domain.record_id(r) for r in records])
        matches = None
        if kind != MATCHES:
            # Matches created earlier in this transaction are visible here: "the same request" counts.
            matches = await store.load_matches(conn, tenant=tenant, match_ids=[r.match_id for r in records])
        steps = domain.plan(kind, parsed.items, stored=stored, matches=matches, rejected_matches=rejected_matches)

        to_insert = [s.record for s in steps if s.outcome is Outcome.CREATED]
        inserted = await store.insert_records(conn, kind=kind, tenant=tenant, records=to_insert, origin=origin,
                                              import_id=import_id)
        final: list[Planned] = []
        for step in steps:
            if step.outcome is Outcome.CREATED:
                if step.record_id in inserted:
                    uow.emit(spec.event_type, domain.event_payload(step.record), subject=step.record_id)
                else:  # stored meanwhile; cannot happen under the tenant lock, but never emit twice
                    step = dataclasses.replace(step, outcome=Outcome.DUPLICATE)
            final.append(step)
        if kind == MATCHES:
            accepted = {s.record_id for s in final if s.outcome is not Outcome.REJECTED}
            rejected_matches = {s.record_id for s in final if s.outcome is Outcome.REJECTED} - accepted - set(stored)
        results.append((parsed, final + domain.invalid_steps(parsed)))
    return results
