"""Data-subject requests (DSAR) for safety-moderation: the screenings and flags of the texts a
person wrote (matched on the author ref stored with each row, see migrations/0002). Every row
is derived from that person's own words, so erasure deletes."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.safety_moderation import store
from summit_common.privacy import subject_refs
from summit_contracts.events.privacy import DataSubject

CATEGORIES = {
    "screenings": "the verdicts on the person's texts: source record (content type and id), outcome, verdict,"
                  " policy version, time (no text, only its SHA-256, which is not exported)",
    "flags": "review-queue items for the person's texts that matched the policy: category, severity, masked text,"
             " masked excerpt, review status, decision, masked reason, times",
}


async def export_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
    return await store.export_author(conn, tenant=tenant, refs=subject_refs(subject))


async def erase_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, int]:
    return await store.erase_author(conn, tenant=tenant, refs=subject_refs(subject))
