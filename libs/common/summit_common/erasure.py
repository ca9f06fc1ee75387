"""Erasure tombstones: once a person is erased, events about them that were created before
the erasure (a late delivery, a dead letter replayed by an operator) are skipped, so the
erasure is not undone. Events created afterwards pass: the source sent the person again.

A person is matched by the source refs (`ExternalRef`) an event carries in its top-level
fields (participant, volunteer, rated_by, ...), stored only as a hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from summit_contracts.events.common import ExternalRef


def ref_key(system: str, id_: str) -> str:
    return hashlib.sha256(f"{system}\x1f{id_}".encode()).hexdigest()


def refs_in(data: BaseModel) -> set[tuple[str, str]]:
    """The (system, id) of every ExternalRef in the event's top-level fields and their sequences."""
    found: set[tuple[str, str]] = set()
    for name in type(data).model_fields:
        value = getattr(data, name)
        for ref in value if isinstance(value, tuple | list) else (value,):
            if isinstance(ref, ExternalRef):
                found.add((ref.system, ref.id))
    return found


async def record(conn: asyncpg.Connection, tenant: str, refs: Iterable[tuple[str, str]], at: datetime) -> None:
    keys = sorted({ref_key(system, id_) for system, id_ in refs})
    await conn.execute(
        "INSERT INTO erased_subjects (tenant_id, ref_key, erased_at) SELECT $1, k, $3 FROM unnest($2::text[]) AS k"
        " ON CONFLICT (tenant_id, ref_key) DO UPDATE SET erased_at = GREATEST(erased_subjects.erased_at, EXCLUDED.erased_at)",
        tenant, keys, at)


async def suppressed(conn: asyncpg.Connection, events: Sequence[tuple[Any, BaseModel]]) -> set[int]:
    """Indexes of the (envelope, data) pairs that are about an erased person and older than the
    erasure (an event without a time counts as older)."""
    index, tenants, keys, times = [], [], [], []
    for i, (envelope, data) in enumerate(events):
        for system, id_ in refs_in(data):
            index.append(i)
            tenants.append(envelope.tenantid or "")
            keys.append(ref_key(system, id_))
            times.append(envelope.time)
    if not index:
        return set()
    rows = await conn.fetch(
        "SELECT DISTINCT k.i FROM unnest($1::int[], $2::text[], $3::text[], $4::timestamptz[]) AS k(i, tenant, ref_key, at)"
        " JOIN erased_subjects e ON e.tenant_id = k.tenant AND e.ref_key = k.ref_key"
        " WHERE k.at IS NULL OR k.at <= e.erased_at",
        index, tenants, keys, times)
    return {r["i"] for r in rows}
