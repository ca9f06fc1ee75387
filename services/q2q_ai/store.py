"""SQL for the q2q_ai schema only (tables: text_items, reviews, evidence_snippets, outcome_scores).

Functions take a connection, keyword-only arguments, and never commit: writes run inside the
caller's unit of work. jsonb travels as JSON text (the chassis pool has no jsonb codec).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from summit_common.sql import Where

_ITEM_COLUMNS = (
    "item_id, tenant_id, content_type, content_id, status, participant_system, participant_id, masked_text,"
    " observed_at, verdict, flag_id, review_decision"
)


@dataclass(frozen=True)
class ItemRow:
    item_id: str
    tenant: str
    content_type: str
    content_id: str
    status: str
    participant_system: str | None
    participant_id: str | None
    masked_text: str | None
    observed_at: datetime | None
    verdict: str | None
    flag_id: str | None
    review_decision: str | None


def _item(row: asyncpg.Record) -> ItemRow:
    return ItemRow(
        item_id=str(row["item_id"]), tenant=row["tenant_id"], content_type=row["content_type"],
        content_id=row["content_id"], status=row["status"], participant_system=row["participant_system"],
        participant_id=row["participant_id"], masked_text=row["masked_text"], observed_at=row["observed_at"],
        verdict=row["verdict"], flag_id=row["flag_id"], review_decision=row["review_decision"],
    )


def as_uuid(value: str) -> uuid.UUID | None:
    """None for text that is not a UUID, so a malformed id reads as 'not found'."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


# --- the gate ---------------------------------------------------------------------------


async def upsert_text(
    conn: asyncpg.Connection, *, tenant: str, item_id: str, content_type: str, content_id: str,
    participant_system: str, participant_id: str, masked_text: str, text_sha256: str, observed_at: datetime,
    event_id: str,
) -> ItemRow | None:
    """Store a text item's masked text, unless the item already has its text or was discarded.
    Returns the item after the write, None when nothing was new. Locks the item row until commit."""
    row = await conn.fetchrow(
        "INSERT INTO text_items (item_id, tenant_id, content_type, content_id, status, participant_system,"
        " participant_id, masked_text, text_sha256, observed_at, text_event_id)"
        " VALUES ($1, $2, $3, $4, 'awaiting_screening', $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (tenant_id, content_type, content_id) DO UPDATE SET"
        " (participant_system, participant_id, masked_text, text_sha256, observed_at, text_event_id, updated_at) ="
        " (EXCLUDED.participant_system, EXCLUDED.participant_id, EXCLUDED.masked_text, EXCLUDED.text_sha256,"
        "  EXCLUDED.observed_at, EXCLUDED.text_event_id, now())"
        " WHERE text_items.text_event_id IS NULL AND text_items.status <> 'discarded'"
        f" RETURNING {_ITEM_COLUMNS}",
        uuid.UUID(item_id), tenant, content_type, content_id, participant_system, participant_id, masked_text,
        text_sha256, observed_at, event_id,
    )
    return _item(row) if row else None


async def upsert_screening(
    conn: asyncpg.Connection, *, tenant: str, item_id: str, content_type: str, content_id: str, verdict: str,
    flag_id: str | None, policy_version: str, review_decision: str | None,
) -> ItemRow | None:
    """Record a screening verdict unless the item has one already (the first verdict stands).
    Returns the item after the write, None when it was screened before."""
    row = await conn.fetchrow(
        "INSERT INTO text_items (item_id, tenant_id, content_type, content_id, status, verdict, flag_id,"
        " policy_version, review_decision) VALUES ($1, $2, $3, $4, 'awaiting_text', $5, $6, $7, $8)"
        " ON CONFLICT (tenant_id, content_type, content_id) DO UPDATE SET"
        " (verdict, flag_id, policy_version, review_decision, updated_at) ="
        " (EXCLUDED.verdict, EXCLUDED.flag_id, EXCLUDED.policy_version, EXCLUDED.review_decision, now())"
        " WHERE text_items.verdict IS NULL"
        f" RETURNING {_ITEM_COLUMNS}",
        uuid.UUID(item_id), tenant, content_type, content_id, verdict, flag_id, policy_version, review_decision,
    )
    return _item(row) if row else None


async def lock_flag(conn: asyncpg.Connection, *, tenant: str, flag_id: str) -> None:
    """Serialise everything about one safety flag (its screening and its reviews, on any
    replica) until commit, so a review and the screening it belongs to always meet."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"q2q-ai:flag:{tenant}:{flag_id}")


async def get_review(conn: asyncpg.Connection, *, tenant: str, flag_id: str) -> tuple[str, str] | None:
    """(content_id, decision) of a flag's review, if one arrived."""
    row = await conn.fetchrow("SELECT content_id, decision FROM reviews WHERE tenant_id = $1 AND flag_id = $2",
                              tenant, flag_id)
    return (row["content_id"], row["decision"]) if row else None


async def save_review(conn: asyncpg.Connection, *, tenant: str, flag_id: str, content_id: str, decision: str,
                      reviewed_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO reviews (tenant_id, flag_id, content_id, decision, reviewed_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (tenant_id, flag_id) DO UPDATE SET decision = EXCLUDED.decision, reviewed_at = EXCLUDED.reviewed_at,"
        " received_at = now()",
        tenant, flag_id, content_id, decision, reviewed_at,
    )


async def apply_review(conn: asyncpg.Connection, *, tenant: str, flag_id: str, content_id: str, decision: str
                       ) -> list[ItemRow]:
    """Carry a review decision onto the unsettled item held under that flag (if it was screened already)."""
    rows = await conn.fetch(
        "UPDATE text_items SET review_decision = $4, updated_at = now()"
        " WHERE tenant_id = $1 AND flag_id = $2 AND content_id = $3 AND status NOT IN ('scored', 'discarded')"
        f" RETURNING {_ITEM_COLUMNS}",
        tenant, flag_id, content_id, decision,
    )
    return [_item(r) for r in rows]


async def set_status(conn: asyncpg.Connection, *, item_id: str, status: str) -> None:
    await conn.execute("UPDATE text_items SET status = $2, updated_at = now() WHERE item_id = $1",
                       uuid.UUID(item_id), status)


async def discard(conn: asyncpg.Connection, *, item_id: str) -> None:
    """Rejected by review: forget the masked text (its hash stays, as a record of what was discarded)."""
    await conn.execute(
        "UPDATE text_items SET status = 'discarded', masked_text = NULL, settled_at = now(), updated_at = now()"
        " WHERE item_id = $1",
        uuid.UUID(item_id),
    )


async def mark_scored(conn: asyncpg.Connection, *, item_id: str, model_version: str, scores_count: int) -> None:
    await conn.execute(
        "UPDATE text_items SET status = 'scored', model_version = $2, scores_count = $3, settled_at = now(),"
        " updated_at = now() WHERE item_id = $1",
        uuid.UUID(item_id), model_version, scores_count,
    )


async def insert_evidence(conn: asyncpg.Connection, *, tenant: str, item_id: str,
                          snippets: Sequence[tuple[str, int, str, str]]) -> None:
    """(evidence_id, sentence_index, masked snippet, sha256 of it) rows of one item, in one statement."""
    if not snippets:
        return
    await conn.execute(
        "INSERT INTO evidence_snippets (evidence_id, tenant_id, item_id, sentence_index, snippet, snippet_sha256)"
        " SELECT u.evidence_id, $1, $2, u.sentence_index, u.snippet, u.snippet_sha256"
        " FROM unnest($3::uuid[], $4::int[], $5::text[], $6::text[]) AS u(evidence_id, sentence_index, snippet, snippet_sha256)",
        tenant, uuid.UUID(item_id), [uuid.UUID(s[0]) for s in snippets], [s[1] for s in snippets],
        [s[2] for s in snippets], [s[3] for s in snippets],
    )


@dataclass(frozen=True)
class ScoreRow:
    score_id: str
    dimension: str
    value: float
    confidence: float
    evidence_ids: tuple[str, ...]
    explanation: Sequence[Any]


async def insert_scores(conn: asyncpg.Connection, *, tenant: str, item: ItemRow, scores: Sequence[ScoreRow],
                        model_version: str, scored_at: datetime) -> None:
    await conn.executemany(
        "INSERT INTO outcome_scores (score_id, tenant_id, item_id, participant_system, participant_id, dimension, value,"
        " confidence, evidence_ids, explanation, model_version, source_type, source_id, observed_at, scored_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::uuid[], $10::jsonb, $11, $12, $13, $14, $15)",
        [
            (uuid.UUID(s.score_id), tenant, uuid.UUID(item.item_id), item.participant_system, item.participant_id,
             s.dimension, s.value, s.confidence, [uuid.UUID(e) for e in s.evidence_ids], json.dumps(list(s.explanation)),
             model_version, item.content_type, item.content_id, item.observed_at, scored_at)
            for s in scores
        ],
    )


# --- queries ----------------------------------------------------------------------------

_SCORE_COLUMNS = (
    "s.score_id, s.tenant_id, s.participant_system, s.participant_id, s.dimension, s.value, s.confidence,"
    " s.evidence_ids, s.explanation, s.model_version, s.source_type, s.source_id, s.observed_at, s.scored_at"
)


def _score(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "score_id": str(row["score_id"]),
        "participant": {"system": row["participant_system"], "id": row["participant_id"]},
        "dimension": row["dimension"],
        "value": row["value"],
        "confidence": row["confidence"],
        "evidence_ids": [str(e) for e in row["evidence_ids"]],
        "explanation": json.loads(row["explanation"]),
        "model_version": row["model_version"],
        "source_type": row["source_type"],
        "source_id": row["source_id"],
        "observed_at": row["observed_at"],
        "scored_at": row["scored_at"],
    }


async def list_outcomes(
    conn: asyncpg.Connection, *, tenant: str, limit: int, participant: tuple[str, str] | None = None,
    dimension: str | None = None, observed_from: datetime | None = None, observed_to: datetime | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """One page of a tenant's scores, newest observation first (ties by score_id, descending)."""
    system, external_id = participant or (None, None)
    where = (Where().equal("s.tenant_id", tenant).equal("s.participant_system", system)
             .equal("s.participant_id", external_id).equal("s.dimension", dimension)
             .at_least("s.observed_at", observed_from).below("s.observed_at", observed_to)
             .keyset_below(("s.observed_at", "s.score_id"), (after[0], uuid.UUID(after[1])) if after else None))
    sql = (f"SELECT {_SCORE_COLUMNS} FROM outcome_scores s {where}"
           f" ORDER BY s.observed_at DESC, s.score_id DESC LIMIT {where.bind(limit)}")
    return [_score(r) for r in await conn.fetch(sql, *where.args)]


async def get_outcome(conn: asyncpg.Connection, *, score_id: str) -> tuple[str, dict[str, Any]] | None:
    """(owning tenant, score) of any tenant: the caller checks the tenant, so a cross-tenant probe can be audited."""
    key = as_uuid(score_id)
    if key is None:
        return None
    row = await conn.fetchrow(f"SELECT {_SCORE_COLUMNS} FROM outcome_scores s WHERE s.score_id = $1", key)
    return (row["tenant_id"], _score(row)) if row else None


async def get_evidence(conn: asyncpg.Connection, *, evidence_id: str) -> tuple[str, dict[str, Any]] | None:
    """(owning tenant, evidence snippet with its source and the scores citing it) of any tenant."""
    key = as_uuid(evidence_id)
    if key is None:
        return None
    row = await conn.fetchrow(
        "SELECT e.evidence_id, e.tenant_id, e.item_id, e.sentence_index, e.snippet, e.snippet_sha256, e.created_at,"
        " i.content_type, i.content_id, i.participant_system, i.participant_id, i.observed_at"
        " FROM evidence_snippets e JOIN text_items i USING (item_id) WHERE e.evidence_id = $1",
        key,
    )
    if row is None:
        return None
    cited_by = await conn.fetch(
        "SELECT score_id, dimension FROM outcome_scores WHERE item_id = $1 AND $2 = ANY(evidence_ids) ORDER BY dimension",
        row["item_id"], key,
    )
    return row["tenant_id"], {
        "evidence_id": str(row["evidence_id"]),
        "snippet": row["snippet"],
        "snippet_sha256": row["snippet_sha256"],
        "sentence_index": row["sentence_index"],
        "source_type": row["content_type"],
        "source_id": row["content_id"],
        "participant": {"system": row["participant_system"], "id": row["participant_id"]},
        "observed_at": row["observed_at"],
        "created_at": row["created_at"],
        "cited_by": [{"score_id": str(r["score_id"]), "dimension": r["dimension"]} for r in cited_by],
    }


# --- data-subject requests (privacy.py) ---------------------------------------------------

_SUBJECT_ITEMS = (
    "SELECT item_id FROM text_items WHERE tenant_id = $1"
    " AND (participant_system, participant_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))"
)
# Reviews are keyed by flag; a flag belongs to one text item.
_SUBJECT_REVIEWS = (
    "FROM reviews r WHERE r.tenant_id = $1 AND r.flag_id IN (SELECT t.flag_id FROM text_items t"
    " WHERE t.item_id = ANY($2::uuid[]) AND t.flag_id IS NOT NULL)"
)


async def _subject_items(conn: asyncpg.Connection, tenant: str, refs: tuple[list[str], list[str]], *,
                         lock: bool = False) -> list[uuid.UUID]:
    return [r[0] for r in await conn.fetch(_SUBJECT_ITEMS + (" ORDER BY item_id FOR UPDATE" if lock else ""), tenant, *refs)]


async def export_participant(conn: asyncpg.Connection, *, tenant: str, refs: tuple[list[str], list[str]]
                             ) -> dict[str, list[dict[str, Any]]]:
    items = await _subject_items(conn, tenant, refs)
    queries = {
        "text_items": "SELECT item_id, content_type, content_id, status, participant_system, participant_id, masked_text,"
                      " text_sha256, observed_at, verdict, review_decision, model_version, settled_at, created_at"
                      " FROM text_items WHERE item_id = ANY($1::uuid[]) ORDER BY observed_at, item_id",
        "evidence_snippets": "SELECT evidence_id, item_id, sentence_index, snippet, snippet_sha256, created_at"
                             " FROM evidence_snippets WHERE item_id = ANY($1::uuid[]) ORDER BY item_id, sentence_index",
    }
    found = {name: [dict(r) for r in await conn.fetch(sql, items)] for name, sql in queries.items()}
    scores = await conn.fetch(
        f"SELECT {_SCORE_COLUMNS} FROM outcome_scores s WHERE s.tenant_id = $1 AND (s.item_id = ANY($2::uuid[])"
        " OR (s.participant_system, s.participant_id) IN (SELECT * FROM unnest($3::text[], $4::text[])))"
        " ORDER BY s.observed_at, s.score_id", tenant, items, *refs)
    found["outcome_scores"] = [_score(r) for r in scores]
    found["reviews"] = [dict(r) for r in await conn.fetch(
        f"SELECT r.flag_id, r.content_id, r.decision, r.reviewed_at {_SUBJECT_REVIEWS} ORDER BY r.flag_id", tenant, items)]
    return found


async def erase_participant(conn: asyncpg.Connection, *, tenant: str, refs: tuple[list[str], list[str]]) -> dict[str, int]:
    """Deletes the participant's items and everything cut from them; the row locks make a gate
    event for one of them wait, then find nothing (and start a fresh, participant-less item)."""
    items = await _subject_items(conn, tenant, refs, lock=True)

    async def deleted(sql: str, *args: Any) -> int:
        return int((await conn.execute(sql, *args)).split()[-1])

    return {
        "outcome_scores": await deleted(
            "DELETE FROM outcome_scores WHERE tenant_id = $1 AND (item_id = ANY($2::uuid[])"
            " OR (participant_system, participant_id) IN (SELECT * FROM unnest($3::text[], $4::text[])))",
            tenant, items, *refs),
        "evidence_snippets": await deleted("DELETE FROM evidence_snippets WHERE item_id = ANY($1::uuid[])", items),
        "reviews": await deleted(f"DELETE {_SUBJECT_REVIEWS}", tenant, items),
        "text_items": await deleted("DELETE FROM text_items WHERE item_id = ANY($1::uuid[])", items),
    }
