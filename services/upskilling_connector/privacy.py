"""Data-subject requests (DSAR) for upskilling-connector: what it holds about a learner and how
it is erased. Learners are ExternalRef(system=<provider>, id=<the provider's learner id>), so a
subject matches on (provider, participant_id) pairs."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.upskilling_connector import store
from summit_common.privacy import subject_refs
from summit_contracts.events.privacy import DataSubject

CATEGORIES = {
    "completions": "course completions of the learner (course, date, score, credits, certificate id)",
    "credentials": "credentials issued to the learner (name, dates, verification URL, credits)",
    "progress": "the learner's latest progress per course (percent complete, when measured)",
    "import_reports": "import-report error and skipped-row lines whose reason quotes the learner's id",
}


async def export_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
    refs = subject_refs(subject)
    return {
        **{table: await store.subject_rows(conn, tenant=tenant, table=table, refs=refs) for table in store.LEARNER_TABLES},
        "import_reports": await store.import_lines_quoting(conn, tenant=tenant, refs=refs),
    }


async def erase_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, int]:
    refs = subject_refs(subject)
    await store.lock_tenant(conn, tenant=tenant)  # an import running meanwhile must not re-create half of it
    return {
        **{table: await store.delete_subject_rows(conn, tenant=tenant, table=table, refs=refs)
           for table in store.LEARNER_TABLES},
        "import_reports": await store.redact_import_lines(conn, tenant=tenant, refs=refs),
    }
