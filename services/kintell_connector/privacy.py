"""Data-subject requests (DSAR) for kintell-connector: what it holds about a person and how
it is erased. Kintell people are ExternalRef(system="kintell", id=...), as participant,
volunteer or rater; refs of other systems match nothing here."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.kintell_connector import store
from summit_contracts.events.privacy import DataSubject

SYSTEM = "kintell"


def kintell_ids(subject: DataSubject) -> list[str]:
    return sorted({ref.id for ref in subject.refs if ref.system == SYSTEM})


async def export_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
    ids = kintell_ids(subject)
    if not ids:
        return {"sessions": [], "ratings": [], "import_errors": []}
    return {
        "sessions": await store.subject_sessions(conn, tenant, ids),
        "ratings": await store.subject_ratings(conn, tenant, ids),
        "import_errors": await store.subject_import_errors(conn, tenant, ids + await store.participant_session_ids(conn, tenant, ids)),
    }


async def erase_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, int]:
    ids = kintell_ids(subject)
    if not ids:
        return {"sessions": 0, "ratings": 0, "volunteer_refs": 0, "import_errors": 0}
    await store.lock_tenant(conn, tenant)  # an import running meanwhile must not re-create half of it
    ratings = await store.delete_subject_ratings(conn, tenant, ids)
    session_ids = await store.delete_participant_sessions(conn, tenant, ids)
    return {
        "ratings": ratings,
        "sessions": len(session_ids),
        "volunteer_refs": await store.anonymise_volunteer(conn, tenant, ids),
        # A conflict reason names the session ("session KS-1 is already completed").
        "import_errors": await store.redact_import_errors(conn, tenant, ids + session_ids),
    }


CATEGORIES = {
    "sessions": "sessions where the person is the participant or the volunteer (ids, times, language, level, topics, notes)",
    "ratings": "ratings given by the person, or given on the person's sessions as participant (score, comment)",
    "import_errors": "import-report error lines whose reason quotes the person's id or one of their sessions' ids",
}
