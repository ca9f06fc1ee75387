"""Data-subject requests (DSAR) for q2q-ai: the participant's texts (masked), the evidence
snippets cut from them and the scores resting on them. Everything is about the participant
whose text it was, so erasure deletes. Volunteers named in a text are masked before storage
and their refs are never stored."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.q2q_ai import store
from summit_common.privacy import subject_refs
from summit_contracts.events.privacy import DataSubject

CATEGORIES = {
    "text_items": "the participant's texts (masked: no e-mails, phones or names), their source record and gate status",
    "evidence_snippets": "masked sentences of those texts that scores cite, with their SHA-256",
    "outcome_scores": "outcome scores of the participant (dimension, value, confidence, explanation, source)",
    "reviews": "the moderation decisions on the participant's held texts",
}


async def export_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
    return await store.export_participant(conn, tenant=tenant, refs=subject_refs(subject))


async def erase_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, int]:
    return await store.erase_participant(conn, tenant=tenant, refs=subject_refs(subject))
