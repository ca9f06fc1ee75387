"""SQL for the unified_profile schema only. Functions take a connection and never commit.

Tables: profiles, identities, applied_facts, milestones (see migrations/0001_init.sql).
jsonb columns travel as JSON text (the chassis pool has no jsonb codec).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.unified_profile.domain import ProfileState
from summit_common.sql import Where

_PROFILE_COLUMNS = "profile_id, tenant_id, version, flags, counters, last_activity_at, created_at, updated_at"


@dataclass(frozen=True)
class ProfileRow:
    profile_id: str
    tenant: str
    version: int
    state: ProfileState
    created_at: datetime
    updated_at: datetime


def _profile(row: asyncpg.Record) -> ProfileRow:
    return ProfileRow(
        profile_id=str(row["profile_id"]),
        tenant=row["tenant_id"],
        version=row["version"],
        state=ProfileState.from_stored(json.loads(row["flags"]), json.loads(row["counters"]), row["last_activity_at"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def as_uuid(profile_id: str) -> uuid.UUID | None:
    """None for text that is not a UUID, so a malformed id reads as 'not found'."""
    try:
        return uuid.UUID(profile_id)
    except (ValueError, TypeError, AttributeError):
        return None


# --- identities -------------------------------------------------------------------------


async def profile_of_identity(conn: asyncpg.Connection, *, tenant: str, system: str, external_id: str) -> str | None:
    value = await conn.fetchval(
        "SELECT profile_id FROM identities WHERE tenant_id = $1 AND system = $2 AND external_id = $3",
        tenant, system, external_id,
    )
    return str(value) if value is not None else None


async def claim_identity(conn: asyncpg.Connection, *, tenant: str, system: str, external_id: str, profile_id: str, linked_by: str) -> bool:
    """Link an identity to a profile unless it is linked already. True when this call linked it.
    A concurrent claim of the same identity waits for the other transaction, then loses."""
    inserted = await conn.fetchval(
        "INSERT INTO identities (tenant_id, system, external_id, profile_id, linked_by) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (tenant_id, system, external_id) DO NOTHING RETURNING true",
        tenant, system, external_id, uuid.UUID(profile_id), linked_by,
    )
    return bool(inserted)


async def identities_of(conn: asyncpg.Connection, profile_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    rows = await conn.fetch(
        "SELECT profile_id, system, external_id, linked_at FROM identities WHERE profile_id = ANY($1::uuid[])"
        " ORDER BY linked_at, system, external_id",
        [uuid.UUID(p) for p in profile_ids],
    )
    found: dict[str, list[dict[str, Any]]] = {p: [] for p in profile_ids}
    for row in rows:
        found[str(row["profile_id"])].append(
            {"system": row["system"], "external_id": row["external_id"], "linked_at": row["linked_at"]}
        )
    return found


# --- profiles ---------------------------------------------------------------------------


async def insert_profile(conn: asyncpg.Connection, *, tenant: str, profile_id: str) -> None:
    await conn.execute("INSERT INTO profiles (profile_id, tenant_id) VALUES ($1, $2)", uuid.UUID(profile_id), tenant)


async def lock_profile(conn: asyncpg.Connection, profile_id: str) -> ProfileRow | None:
    """Read a profile and hold its row lock until commit: concurrent updates of one
    profile (other consumers, other replicas, HTTP) serialise here, so no increment is lost."""
    key = as_uuid(profile_id)
    if key is None:
        return None
    row = await conn.fetchrow(f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE profile_id = $1 FOR UPDATE", key)
    return _profile(row) if row else None


async def get_profile(conn: asyncpg.Connection, profile_id: str) -> ProfileRow | None:
    """Any tenant's profile: callers check the tenant (so a cross-tenant probe can be audited)."""
    key = as_uuid(profile_id)
    if key is None:
        return None
    row = await conn.fetchrow(f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE profile_id = $1", key)
    return _profile(row) if row else None


async def save_profile(conn: asyncpg.Connection, profile_id: str, *, version: int, state: ProfileState) -> None:
    await conn.execute(
        "UPDATE profiles SET version = $2, flags = $3::jsonb, counters = $4::jsonb, last_activity_at = $5, updated_at = now()"
        " WHERE profile_id = $1",
        uuid.UUID(profile_id), version, json.dumps(dict(state.flags)), json.dumps(dict(state.counters)), state.last_activity_at,
    )


async def list_profiles(
    conn: asyncpg.Connection, *, tenant: str, limit: int, after: str | None = None, flag: str | None = None,
    system: str | None = None, external_id: str | None = None,
) -> list[ProfileRow]:
    """One page of a tenant's profiles in profile_id order (UUIDv7: creation order)."""
    where = (Where().equal("p.tenant_id", tenant).condition("p.profile_id > {}", uuid.UUID(after) if after else None)
             .condition("p.flags @> jsonb_build_object({}::text, true)", flag))
    if system is not None:
        where.condition("EXISTS (SELECT 1 FROM identities i WHERE i.profile_id = p.profile_id"
                        " AND i.tenant_id = p.tenant_id AND i.system = {} AND i.external_id = {})", system, external_id)
    sql = (
        f"SELECT {', '.join('p.' + c.strip() for c in _PROFILE_COLUMNS.split(','))} FROM profiles p"
        f" {where} ORDER BY p.profile_id LIMIT {where.bind(limit)}"
    )
    return [_profile(row) for row in await conn.fetch(sql, *where.args)]


# --- facts and milestones ---------------------------------------------------------------


async def record_fact(conn: asyncpg.Connection, *, profile_id: str, fact_key: str, event_id: str) -> bool:
    """True when the fact is new for this profile; False when it was applied before."""
    inserted = await conn.fetchval(
        "INSERT INTO applied_facts (profile_id, fact_key, event_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (profile_id, fact_key) DO NOTHING RETURNING true",
        uuid.UUID(profile_id), fact_key, event_id,
    )
    return bool(inserted)


async def record_milestone(conn: asyncpg.Connection, *, profile_id: str, milestone: str, reached_at: datetime,
                           trigger_type: str | None) -> bool:
    """True only the first time this profile reaches this milestone."""
    inserted = await conn.fetchval(
        "INSERT INTO milestones (profile_id, milestone, reached_at, trigger_type) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (profile_id, milestone) DO NOTHING RETURNING true",
        uuid.UUID(profile_id), milestone, reached_at, trigger_type,
    )
    return bool(inserted)


async def milestones_of(conn: asyncpg.Connection, profile_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT milestone, reached_at, trigger_type FROM milestones WHERE profile_id = $1 ORDER BY reached_at, milestone",
        uuid.UUID(profile_id),
    )
    return [dict(row) for row in rows]


# --- data-subject requests (privacy.py) ---------------------------------------------------

# Children first; identities -> profiles is deferred anyway.
_PROFILE_TABLES = ("milestones", "applied_facts", "identities", "profiles")


async def profiles_of_refs(conn: asyncpg.Connection, *, tenant: str, refs: tuple[list[str], list[str]],
                           lock: bool = False) -> list[uuid.UUID]:
    """The tenant's profiles that any of these (system, external_id) refs is linked to."""
    rows = await conn.fetch(
        "SELECT p.profile_id FROM profiles p WHERE p.tenant_id = $1 AND p.profile_id IN ("
        " SELECT i.profile_id FROM identities i WHERE i.tenant_id = $1"
        " AND (i.system, i.external_id) IN (SELECT * FROM unnest($2::text[], $3::text[])))"
        f" ORDER BY p.profile_id{' FOR UPDATE' if lock else ''}",
        tenant, *refs,
    )
    return [r["profile_id"] for r in rows]


async def export_profiles(conn: asyncpg.Connection, profile_ids: list[uuid.UUID]) -> dict[str, list[dict[str, Any]]]:
    queries = {
        "profiles": f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE profile_id = ANY($1::uuid[]) ORDER BY profile_id",
        "identities": "SELECT profile_id, system, external_id, linked_at, linked_by FROM identities"
                      " WHERE profile_id = ANY($1::uuid[]) ORDER BY profile_id, linked_at, system, external_id",
        "milestones": "SELECT profile_id, milestone, reached_at, trigger_type FROM milestones"
                      " WHERE profile_id = ANY($1::uuid[]) ORDER BY profile_id, reached_at, milestone",
        "applied_facts": "SELECT profile_id, fact_key, event_id, applied_at FROM applied_facts"
                         " WHERE profile_id = ANY($1::uuid[]) ORDER BY profile_id, applied_at, fact_key",
    }
    found: dict[str, list[dict[str, Any]]] = {}
    for category, sql in queries.items():
        rows = [dict(r) for r in await conn.fetch(sql, profile_ids)]
        for row in rows:
            row["profile_id"] = str(row["profile_id"])
            for key in ("flags", "counters"):
                if key in row:
                    row[key] = json.loads(row[key])
        found[category] = rows
    return found


async def delete_profiles(conn: asyncpg.Connection, profile_ids: list[uuid.UUID]) -> dict[str, int]:
    counts = {}
    for table in _PROFILE_TABLES:
        status = await conn.execute(f"DELETE FROM {table} WHERE profile_id = ANY($1::uuid[])", profile_ids)
        counts[table] = int(status.split()[-1])
    return counts
