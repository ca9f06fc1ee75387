"""Data-subject requests (DSAR) for reporting. Participants are held only as keyed
pseudonyms, so a request's refs are turned into the same pseudonyms to find their evidence.
Erasure deletes the evidence rows and the cohort row; reports keep the cited evidence ids
and the evidence hash (hashes, not text), and show those ids as no longer available."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.reporting import config, domain
from summit_contracts.events.privacy import DataSubject

CATEGORIES = {
    "evidence": "masked evidence snippets of the participant (held under a keyed pseudonym), programme, outcome labels, provenance",
    "cohort": "the time of the participant's first evidence (their cohort quarter)",
}


def pseudonyms(tenant: str, subject: DataSubject) -> list[str]:
    key = config.settings().pseudonym_key
    return [domain.pseudonym(key, tenant, ref.system, ref.id) for ref in subject.refs]


async def export_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
    who = pseudonyms(tenant, subject)
    evidence = await conn.fetch(
        "SELECT evidence_id, program, snippet, snippet_sha256, dimensions, source_type, source_id, observed_at"
        " FROM evidence WHERE tenant_id = $1 AND participant = ANY($2::text[]) ORDER BY observed_at", tenant, who)
    cohort = await conn.fetch("SELECT first_observed_at FROM participants WHERE tenant_id = $1 AND participant = ANY($2::text[])",
                              tenant, who)
    return {"evidence": [dict(r) | {"dimensions": list(r["dimensions"])} for r in evidence],
            "cohort": [{"first_observed_at": r["first_observed_at"], "cohort": domain.quarter_of(r["first_observed_at"])}
                       for r in cohort]}


async def erase_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, int]:
    who = pseudonyms(tenant, subject)
    evidence = await conn.execute("DELETE FROM evidence WHERE tenant_id = $1 AND participant = ANY($2::text[])", tenant, who)
    cohort = await conn.execute("DELETE FROM participants WHERE tenant_id = $1 AND participant = ANY($2::text[])", tenant, who)
    return {"evidence": int(evidence.split()[-1]), "cohort": int(cohort.split()[-1])}
