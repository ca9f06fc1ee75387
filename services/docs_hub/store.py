"""SQL for the docs_hub schema only (refreshes, documents, document_versions, doc_links, coverage).

Every function takes a connection and keyword arguments, is scoped to one tenant (except the
owner lookup used to audit cross-tenant probes), and never commits: writes run inside the
caller's unit of work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

DOC_COLUMNS = (
    "doc_id, doc_key, kind, path, title, services, headings, sha256, version,"
    " first_seen_at, last_changed_at, last_verified_at, removed_at"
)


@dataclass(frozen=True)
class DocRow:
    doc_id: str
    doc_key: str
    kind: str
    path: str | None
    title: str
    services: tuple[str, ...]
    headings: tuple[str, ...]
    sha256: str
    version: int
    first_seen_at: datetime
    last_changed_at: datetime
    last_verified_at: datetime
    removed_at: datetime | None

    @classmethod
    def of(cls, r: asyncpg.Record) -> DocRow:
        return cls(
            doc_id=r["doc_id"], doc_key=r["doc_key"], kind=r["kind"], path=r["path"], title=r["title"],
            services=tuple(r["services"]), headings=tuple(json.loads(r["headings"])), sha256=r["sha256"],
            version=r["version"], first_seen_at=r["first_seen_at"], last_changed_at=r["last_changed_at"],
            last_verified_at=r["last_verified_at"], removed_at=r["removed_at"],
        )


async def lock_tenant(conn: asyncpg.Connection, *, tenant: str) -> None:
    """Serialise refreshes of one tenant (replicas included) so each plans against stable state."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"docs-hub:{tenant}")


async def documents(conn: asyncpg.Connection, *, tenant: str, include_removed: bool = False) -> list[DocRow]:
    rows = await conn.fetch(
        f"SELECT {DOC_COLUMNS} FROM documents WHERE tenant_id = $1 AND ($2 OR removed_at IS NULL) ORDER BY doc_key",
        tenant, include_removed,
    )
    return [DocRow.of(r) for r in rows]


async def document(conn: asyncpg.Connection, *, tenant: str, doc_id: str) -> DocRow | None:
    row = await conn.fetchrow(f"SELECT {DOC_COLUMNS} FROM documents WHERE tenant_id = $1 AND doc_id = $2", tenant, doc_id)
    return DocRow.of(row) if row else None


async def document_owner(conn: asyncpg.Connection, *, doc_id: str) -> str | None:
    """The tenant holding a document id (only to audit a cross-tenant probe)."""
    return await conn.fetchval("SELECT tenant_id FROM documents WHERE doc_id = $1 LIMIT 1", doc_id)


_INSERT_DOC = (
    "INSERT INTO documents (tenant_id, doc_id, doc_key, kind, path, title, services, headings, sha256, version,"
    " first_seen_at, last_changed_at, last_verified_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $11, $11)"
)
_CHANGE_DOC = (
    "UPDATE documents SET kind = $3, path = $4, title = $5, services = $6, headings = $7::jsonb, sha256 = $8,"
    " version = $9, last_changed_at = $10, last_verified_at = $10, removed_at = NULL"
    " WHERE tenant_id = $1 AND doc_id = $2"
)
_VERIFY_DOC = (
    "UPDATE documents SET kind = $3, path = $4, title = $5, services = $6, headings = $7::jsonb,"
    " last_verified_at = $8, removed_at = NULL WHERE tenant_id = $1 AND doc_id = $2"
)
_INSERT_VERSION = (
    "INSERT INTO document_versions (tenant_id, doc_id, version, sha256, content, size_bytes, commit_sha, refresh_id, recorded_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)


@dataclass(frozen=True)
class DocWrite:
    doc_id: str
    doc_key: str
    kind: str
    path: str | None
    title: str
    services: tuple[str, ...]
    headings: tuple[str, ...]
    sha256: str
    version: int
    content: str


async def insert_documents(conn: asyncpg.Connection, *, tenant: str, docs: Sequence[DocWrite], at: datetime) -> None:
    if docs:
        await conn.executemany(_INSERT_DOC, [
            (tenant, d.doc_id, d.doc_key, d.kind, d.path, d.title, list(d.services), json.dumps(list(d.headings)),
             d.sha256, d.version, at)
            for d in docs
        ])


async def change_documents(conn: asyncpg.Connection, *, tenant: str, docs: Sequence[DocWrite], at: datetime) -> None:
    if docs:
        await conn.executemany(_CHANGE_DOC, [
            (tenant, d.doc_id, d.kind, d.path, d.title, list(d.services), json.dumps(list(d.headings)), d.sha256,
             d.version, at)
            for d in docs
        ])


async def verify_documents(conn: asyncpg.Connection, *, tenant: str, docs: Sequence[DocWrite], at: datetime) -> None:
    """Unchanged documents: refresh their metadata and last_verified_at; no new version."""
    if docs:
        await conn.executemany(_VERIFY_DOC, [
            (tenant, d.doc_id, d.kind, d.path, d.title, list(d.services), json.dumps(list(d.headings)), at) for d in docs
        ])


async def insert_versions(conn: asyncpg.Connection, *, tenant: str, docs: Sequence[DocWrite], commit: str | None,
                          refresh_id: str, at: datetime) -> None:
    if docs:
        await conn.executemany(_INSERT_VERSION, [
            (tenant, d.doc_id, d.version, d.sha256, d.content, len(d.content.encode("utf-8")), commit, refresh_id, at)
            for d in docs
        ])


async def mark_removed(conn: asyncpg.Connection, *, tenant: str, doc_ids: Sequence[str], at: datetime) -> None:
    if doc_ids:
        await conn.execute(
            "UPDATE documents SET removed_at = $3 WHERE tenant_id = $1 AND doc_id = ANY($2::text[]) AND removed_at IS NULL",
            tenant, list(doc_ids), at,
        )


async def replace_links(conn: asyncpg.Connection, *, tenant: str, links: Sequence[tuple[str, str, str, str]]) -> None:
    """Links are derived from the documents and the catalogue: recomputed on every refresh.
    `links` holds (doc_id, kind, service, target)."""
    await conn.execute("DELETE FROM doc_links WHERE tenant_id = $1", tenant)
    if links:
        await conn.execute(
            "INSERT INTO doc_links (tenant_id, doc_id, link_kind, service, target)"
            " SELECT $1, u.doc_id, u.kind, u.service, u.target"
            " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(doc_id, kind, service, target)",
            tenant, [x[0] for x in links], [x[1] for x in links], [x[2] for x in links], [x[3] for x in links],
        )


async def links(conn: asyncpg.Connection, *, tenant: str) -> list[tuple[str, str, str, str]]:
    """(doc_id, kind, service, target) of the tenant's current links."""
    rows = await conn.fetch(
        "SELECT doc_id, link_kind, service, target FROM doc_links WHERE tenant_id = $1 ORDER BY doc_id, link_kind, target",
        tenant,
    )
    return [(r["doc_id"], r["link_kind"], r["service"], r["target"]) for r in rows]


async def replace_coverage(conn: asyncpg.Connection, *, tenant: str, rows: Sequence[dict[str, Any]], refresh_id: str,
                           at: datetime) -> None:
    await conn.execute("DELETE FROM coverage WHERE tenant_id = $1", tenant)
    if rows:
        await conn.executemany(
            "INSERT INTO coverage (tenant_id, service, endpoints_total, endpoints_documented, events_total,"
            " events_documented, undocumented, refresh_id, computed_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)",
            [
                (tenant, r["service"], r["endpoints_total"], r["endpoints_documented"], r["events_total"],
                 r["events_documented"], json.dumps(r["undocumented"]), refresh_id, at)
                for r in rows
            ],
        )


async def coverage(conn: asyncpg.Connection, *, tenant: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT service, endpoints_total, endpoints_documented, events_total, events_documented, undocumented,"
        " refresh_id, computed_at FROM coverage WHERE tenant_id = $1 ORDER BY service",
        tenant,
    )
    return [{**dict(r), "undocumented": json.loads(r["undocumented"])} for r in rows]


async def insert_refresh(conn: asyncpg.Connection, *, tenant: str, refresh_id: str, commit: str | None, requested_by: str,
                         at: datetime, docs_seen: int, versions_created: int, docs_removed: int,
                         catalogue: dict[str, Any], problems: list[str]) -> None:
    await conn.execute(
        "INSERT INTO refreshes (refresh_id, tenant_id, commit_sha, requested_by, indexed_at, docs_seen, versions_created,"
        " docs_removed, catalogue, problems) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb)",
        refresh_id, tenant, commit, requested_by, at, docs_seen, versions_created, docs_removed,
        json.dumps(catalogue), json.dumps(problems),
    )


async def latest_refresh(conn: asyncpg.Connection, *, tenant: str, with_catalogue: bool = False) -> dict[str, Any] | None:
    columns = "refresh_id, commit_sha, requested_by, indexed_at, docs_seen, versions_created, docs_removed, problems"
    if with_catalogue:
        columns += ", catalogue"
    row = await conn.fetchrow(
        f"SELECT {columns} FROM refreshes WHERE tenant_id = $1 ORDER BY indexed_at DESC, refresh_id DESC LIMIT 1", tenant
    )
    if row is None:
        return None
    out = dict(row)
    out["problems"] = json.loads(out["problems"])
    if with_catalogue:
        out["catalogue"] = json.loads(out["catalogue"])
    return out


async def versions(conn: asyncpg.Connection, *, tenant: str, doc_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT version, sha256, size_bytes, commit_sha, refresh_id, recorded_at FROM document_versions"
        " WHERE tenant_id = $1 AND doc_id = $2 ORDER BY version DESC",
        tenant, doc_id,
    )
    return [dict(r) for r in rows]


async def version(conn: asyncpg.Connection, *, tenant: str, doc_id: str, version: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT version, sha256, size_bytes, content, commit_sha, refresh_id, recorded_at FROM document_versions"
        " WHERE tenant_id = $1 AND doc_id = $2 AND version = $3",
        tenant, doc_id, version,
    )
    return dict(row) if row else None


async def current_contents(conn: asyncpg.Connection, *, tenant: str, doc_ids: Sequence[str]) -> dict[str, str]:
    """doc_id -> the text of its current version."""
    if not doc_ids:
        return {}
    rows = await conn.fetch(
        "SELECT d.doc_id, v.content FROM documents d"
        " JOIN document_versions v ON v.tenant_id = d.tenant_id AND v.doc_id = d.doc_id AND v.version = d.version"
        " WHERE d.tenant_id = $1 AND d.doc_id = ANY($2::text[])",
        tenant, list(doc_ids),
    )
    return {r["doc_id"]: r["content"] for r in rows}
