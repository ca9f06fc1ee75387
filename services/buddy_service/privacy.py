"""Data-subject requests (DSAR) for buddy-service: what it holds about a person and how it is
erased. Buddy-system people are ExternalRef(system="buddy", id=...), as a match's participant
or as its buddy (a volunteer); refs of other systems match nothing here."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.buddy_service import store
from services.buddy_service.domain import BUDDY_SYSTEM
from summit_contracts.events.privacy import DataSubject

CATEGORIES = {
    "matches": "buddy matches where the person is the participant or the buddy (ids, matched_at, programme)",
    "events": "shared activities of the person's matches as participant (category, time, duration)",
    "checkins": "check-ins of the person's matches as participant (time, mood, free-text notes)",
    "feedback": "feedback on the person's matches as participant, and feedback the person wrote as buddy (rating, free text)",
    "import_reports": "import-report lines whose reason or record id names the person, their matches or records",
}
RECORD_TABLES = {"events": "buddy_events", "checkins": "buddy_checkins", "feedback": "buddy_feedback"}


def buddy_ids(subject: DataSubject) -> list[str]:
    return sorted({ref.id for ref in subject.refs if ref.system == BUDDY_SYSTEM})


async def export_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
    ids = buddy_ids(subject)
    if not ids:
        return {category: [] for category in CATEGORIES}
    records = {category: await store.subject_records(conn, tenant=tenant, table=table, ids=ids)
               for category, table in RECORD_TABLES.items()}
    names = ids + await store.participant_match_ids(conn, tenant=tenant, ids=ids) + [
        r[key] for category, rows in records.items() for r in rows for key in ("event_id", "checkin_id", "feedback_id") if key in r]
    return {
        "matches": await store.subject_matches(conn, tenant=tenant, ids=ids),
        **records,
        "import_reports": await store.import_lines_naming(conn, tenant=tenant, names=names),
    }


async def erase_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, int]:
    ids = buddy_ids(subject)
    if not ids:
        return dict.fromkeys([*CATEGORIES, "buddy_refs"], 0)
    await store.lock_tenant(conn, tenant=tenant)  # an import running meanwhile must not re-create half of it
    match_ids = await store.participant_match_ids(conn, tenant=tenant, ids=ids)
    counts: dict[str, int] = {}
    names = ids + match_ids
    for category, table in RECORD_TABLES.items():
        deleted = await store.delete_subject_records(conn, tenant=tenant, table=table, ids=ids)
        counts[category] = len(deleted)
        names += deleted
    counts["matches"] = await store.delete_participant_matches(conn, tenant=tenant, ids=ids)
    counts["buddy_refs"] = await store.anonymise_buddy(conn, tenant=tenant, ids=ids)
    counts["import_reports"] = await store.redact_import_lines(conn, tenant=tenant, names=names)
    return counts
