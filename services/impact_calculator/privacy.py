"""Personal data: the facts name participants and volunteers by their source refs.

Export lists the facts a person appears in. Erasure pseudonymises instead of deleting:
each ref becomes a random `erased:<uuid>` alias in the facts and in stored VIS detail, so
published SROI/VIS figures (already reported to boards and partner platforms) stay as they
were while nothing links them to the person any more.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.impact_calculator import store
from summit_common.privacy import PersonalData
from summit_contracts.events.privacy import DataSubject


def _refs(subject: DataSubject) -> list[str]:
    return [f"{r.system}:{r.id}" for r in subject.refs]


async def export_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
    rows = await store.facts_of_people(conn, company=tenant, refs=_refs(subject))
    refs = set(_refs(subject))
    return {"impact_facts": [
        {"fact": r["fact_key"], "kind": r["kind"], "occurred_at": r["occurred_at"].isoformat(), "label": r["label"],
         "value": r["value"], "role": "participant" if r["participant"] in refs else "volunteer", "event_id": r["event_id"]}
        for r in rows]}


async def erase_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, int]:
    aliases = {ref: f"erased:{uuid.uuid4()}" for ref in _refs(subject)}
    return {"impact_facts": await store.pseudonymise_people(conn, company=tenant, aliases=aliases)}


PERSONAL_DATA = PersonalData(
    categories={"impact_facts": "outcomes, sessions and ratings counted for SROI/VIS, by participant or volunteer ref"},
    export=export_subject,
    erase=erase_subject,
)
