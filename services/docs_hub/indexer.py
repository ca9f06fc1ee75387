"""A refresh of the index inside one unit of work, and the selection behind GET /v1/docs.

`refresh` applies a scan: versions only for changed hashes (`domain.plan_versions`), links and
coverage recomputed, the catalogue snapshot recorded, and one coverage event per service
emitted through the outbox, all in the caller's transaction. `select_docs` is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.docs_hub import domain, store
from services.docs_hub.scan import Scan
from summit_common import UnitOfWork
from summit_contracts import new_id

COVERAGE_REPORTED = "governance.docs.coverage.reported.v1"


def _headings(doc: domain.SourceDoc) -> tuple[str, ...]:
    return tuple(h for _, h in domain.headings(doc.content)) if doc.kind in domain.HUMAN_KINDS else ()


async def refresh(uow: UnitOfWork, *, tenant: str, scan: Scan, commit: str | None, requested_by: str,
                  at: datetime) -> dict[str, Any]:
    conn = uow.conn
    await store.lock_tenant(conn, tenant=tenant)
    existing = {d.doc_key: d for d in await store.documents(conn, tenant=tenant, include_removed=True)}
    stored = {k: domain.StoredDoc(d.sha256, d.version, d.removed_at is not None) for k, d in existing.items()}
    incoming = {d.key: d for d in scan.docs}
    plan = domain.plan_versions(stored, {k: d.sha256 for k, d in incoming.items()})
    refresh_id = new_id()

    doc_ids = {key: row.doc_id for key, row in existing.items()}
    writes: dict[domain.Action, list[store.DocWrite]] = {a: [] for a in domain.Action}
    for key, planned in sorted(plan.items()):
        if planned.action is domain.Action.REMOVED:
            continue
        doc = incoming[key]
        doc_id = doc_ids.setdefault(key, new_id())
        writes[planned.action].append(store.DocWrite(
            doc_id=doc_id, doc_key=key, kind=doc.kind, path=doc.path, title=doc.title, services=doc.services,
            headings=_headings(doc), sha256=doc.sha256, version=planned.version, content=doc.content,
        ))
    await store.insert_documents(conn, tenant=tenant, docs=writes[domain.Action.NEW], at=at)
    await store.change_documents(conn, tenant=tenant, docs=writes[domain.Action.CHANGED], at=at)
    await store.verify_documents(conn, tenant=tenant, docs=writes[domain.Action.UNCHANGED] + writes[domain.Action.RESTORED], at=at)
    new_versions = writes[domain.Action.NEW] + writes[domain.Action.CHANGED]
    await store.insert_versions(conn, tenant=tenant, docs=new_versions, commit=commit, refresh_id=refresh_id, at=at)
    removed = [existing[k].doc_id for k, p in plan.items() if p.action is domain.Action.REMOVED]
    await store.mark_removed(conn, tenant=tenant, doc_ids=removed, at=at)

    links = domain.compute_links(scan.docs, scan.catalogue)
    await store.replace_links(conn, tenant=tenant, links=[(doc_ids[x.doc_key], x.kind, x.service, x.target) for x in links])
    coverage = domain.compute_coverage(scan.catalogue, links, {d.key: d.kind for d in scan.docs})
    await store.replace_coverage(conn, tenant=tenant, refresh_id=refresh_id, at=at, rows=[
        {"service": c.service, "endpoints_total": c.endpoints_total, "endpoints_documented": c.endpoints_documented,
         "events_total": c.events_total, "events_documented": c.events_documented,
         "undocumented": {"endpoints": list(c.undocumented_endpoints), "events": list(c.undocumented_events)}}
        for c in coverage
    ])
    problems = scan.errors + scan.skipped
    await store.insert_refresh(
        conn, tenant=tenant, refresh_id=refresh_id, commit=commit, requested_by=requested_by, at=at,
        docs_seen=len(incoming), versions_created=len(new_versions), docs_removed=len(removed),
        catalogue=scan.catalogue.to_json(), problems=problems,
    )
    for c in coverage:
        uow.emit(COVERAGE_REPORTED, {
            "service": c.service, "endpoint_coverage": c.endpoint_coverage, "event_coverage": c.event_coverage,
            "commit": commit, "reported_at": at,
        }, subject=c.service)
    return {
        "refresh_id": refresh_id,
        "commit": commit,
        "indexed_at": at,
        "documents": {"seen": len(incoming), **domain.count_actions(plan)},
        "versions_created": len(new_versions),
        "coverage": {"overall": domain.totals(coverage).as_dict(), "services": [c.as_dict() for c in coverage]},
        "errors": scan.errors,
        "skipped": scan.skipped,
    }


# --- selection (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    docs: list[store.DocRow]
    matched_endpoints: list[domain.Route]


def _sort_key(doc: store.DocRow) -> tuple[str, int, str]:
    return (doc.services[0] if doc.services else "~", domain.KIND_ORDER.get(doc.kind, 99), doc.doc_key)


def sort_key(doc: store.DocRow) -> list[Any]:
    return list(_sort_key(doc))


def select_docs(docs: Sequence[store.DocRow], links: Sequence[tuple[str, str, str, str]], catalogue: domain.Catalogue,
                *, service: str | None = None, endpoint: str | None = None, capability: str | None = None,
                kind: str | None = None) -> Selection:
    """The documents matching every filter given, in (service, kind, key) order.

    Raises LookupError for an unknown service or an endpoint no indexed route matches, and
    ValueError for a malformed endpoint."""
    selected = list(docs)
    matched: list[domain.Route] = []
    by_doc: dict[str, list[tuple[str, str, str]]] = {}
    for doc_id, link_kind, link_service, target in links:
        by_doc.setdefault(doc_id, []).append((link_kind, link_service, target))
    if service is not None:
        if catalogue.service(service) is None:
            raise LookupError(f"service {service!r} is not in the index")
        selected = [d for d in selected if service in d.services]
    if endpoint is not None:
        method, path = domain.parse_endpoint(endpoint)
        services = [s for s in catalogue.services if service is None or s.name == service]
        wanted: set[tuple[str, str]] = set()
        for s in services:
            for route in domain.best_routes(method, path, s.routes):
                matched.append(route)
                wanted.add((s.name, route.key))
        if not wanted:
            raise LookupError(f"no indexed endpoint matches {endpoint!r}")
        selected = [d for d in selected
                    if any(k == "endpoint" and (svc, t) in wanted for k, svc, t in by_doc.get(d.doc_id, ()))]
    if capability is not None:
        routes = {(s.name, r.key): r for s in catalogue.services for r in s.routes}

        def serves(d: store.DocRow) -> bool:
            own = by_doc.get(d.doc_id, ())
            return domain.matches_capability(
                capability, title=d.title, heading_texts=d.headings,
                routes=[routes[(svc, t)] for k, svc, t in own if k == "endpoint" and (svc, t) in routes],
                events=[t for k, _, t in own if k == "event"],
            )

        selected = [d for d in selected if serves(d)]
    if kind is not None:
        selected = [d for d in selected if d.kind == kind]
    return Selection(docs=sorted(selected, key=_sort_key), matched_endpoints=matched)


def spec_changed_at(docs: Sequence[store.DocRow]) -> dict[str, datetime]:
    """service -> when one of its specs (OpenAPI, AsyncAPI) last changed."""
    out: dict[str, datetime] = {}
    for d in docs:
        if d.kind in domain.SPEC_KINDS:
            for s in d.services:
                out[s] = max(out.get(s, d.last_changed_at), d.last_changed_at)
    return out


def stale(doc: store.DocRow, spec_times: dict[str, datetime]) -> bool:
    return any(domain.is_stale(doc.kind, doc.last_changed_at, spec_times.get(s)) for s in doc.services)


def pointer(doc: store.DocRow, links: Sequence[tuple[str, str, str]], spec_times: dict[str, datetime]) -> dict[str, Any]:
    """The JSON view of one indexed document."""
    return {
        "doc_id": doc.doc_id,
        "key": doc.doc_key,
        "kind": doc.kind,
        "title": doc.title,
        "path": doc.path,
        "served_at": {"openapi": "/openapi.json", "asyncapi": "/asyncapi.json"}.get(doc.kind),
        "services": list(doc.services),
        "sha256": doc.sha256,
        "version": doc.version,
        "first_seen_at": doc.first_seen_at,
        "last_changed_at": doc.last_changed_at,
        "last_verified_at": doc.last_verified_at,
        "stale": stale(doc, spec_times),
        "links": {
            "endpoints": [{"service": svc, "endpoint": t} for k, svc, t in sorted(links) if k == "endpoint"],
            "events": [{"service": svc, "event": t} for k, svc, t in sorted(links) if k == "event"],
        },
    }
