"""Source adapters: where the graph's inputs come from (the only I/O of schema-viz).

Two adapters produce the same `domain.Sources`:

- `live_sources()`: the platform itself. The catalogue is `summit_common.catalog.export_catalog()`;
  each service's migrations are read from its `Service.migrations` folder
  (`summit_common.catalog.discover_services()`); the chassis tables from
  `summit_common/chassis_migrations`; HTTP calls from the route tables and static declarations
  named in `calls.yaml` beside this file (paths relative to the folder that holds `services/`).
- `directory_sources(path)`: a folder in the same shape, used by the snapshot tests and by
  `SCHEMA_VIZ_SOURCE_DIR` (to serve diagrams of a frozen catalogue):

      catalog.json                    an export_catalog() document
      migrations/<service-name>/*.sql
      chassis/*.sql
      calls.yaml                      optional; route table files relative to the folder

`source_report()` lists each adapter, where it read from, and what it found (the "catalogue of
source adapters" that the coverage report carries).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from services.schema_viz.domain import RouteTable, SourceError, Sources, parse_calls_doc, parse_catalog

CALLS_FILE = Path(__file__).parent / "calls.yaml"


def _sql_files(folder: Path | None) -> list[tuple[str, str]]:
    if folder is None or not folder.exists():
        return []
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.sql"))]


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SourceError(f"{path.name}: not valid YAML: {exc}") from None


def _calls(calls_file: Path, root: Path, location: str) -> tuple[list[RouteTable], list]:
    if not calls_file.exists():
        return [], []
    doc = parse_calls_doc(_read_yaml(calls_file), location=location)
    tables = []
    for decl in doc.route_tables:
        path = (root / decl.file).resolve()
        if root.resolve() not in path.parents:
            raise SourceError(f"{location}: route table {decl.file} is outside {root}")
        tables.append(RouteTable(service=decl.service, location=decl.file,
                                 doc=_read_yaml(path) if path.exists() else None))
    return tables, list(doc.calls)


def repo_root() -> Path:
    """The folder that holds the `services` package (the repository root in a checkout)."""
    import services

    return Path(next(iter(services.__path__))).resolve().parent


def live_sources() -> Sources:
    """The platform's own catalogue, migrations, route tables and call declarations."""
    from summit_common import db
    from summit_common.catalog import discover_services, export_catalog

    catalog = parse_catalog(export_catalog())
    found = discover_services()
    migrations = {name: _sql_files(service.migrations) for name, service in found.items()}
    root = repo_root()
    tables, calls = _calls(CALLS_FILE, root, "services/schema_viz/calls.yaml")
    return Sources(
        catalog=catalog,
        migrations=migrations,
        chassis=_sql_files(db.CHASSIS_MIGRATIONS),
        route_tables=tables,
        calls=calls,
        locations={
            "catalogue": "summit_common.catalog.export_catalog()",
            "migrations": "services/*/migrations (Service.migrations)",
            "chassis-migrations": "summit_common/chassis_migrations",
            "calls": "services/schema_viz/calls.yaml",
        },
    )


def directory_sources(path: Path) -> Sources:
    """A frozen source folder (catalog.json, migrations/<service>/, chassis/, calls.yaml)."""
    path = Path(path)
    catalog_file = path / "catalog.json"
    if not catalog_file.exists():
        raise SourceError(f"{path}: no catalog.json")
    try:
        doc = json.loads(catalog_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SourceError(f"catalog.json: not valid JSON: {exc}") from None
    catalog = parse_catalog(doc)
    migrations = {d.name: _sql_files(d) for d in sorted((path / "migrations").glob("*")) if d.is_dir()}
    tables, calls = _calls(path / "calls.yaml", path, "calls.yaml")
    return Sources(
        catalog=catalog,
        migrations=migrations,
        chassis=_sql_files(path / "chassis"),
        route_tables=tables,
        calls=calls,
        locations={"catalogue": "catalog.json", "migrations": "migrations/<service>/*.sql",
                   "chassis-migrations": "chassis/*.sql", "calls": "calls.yaml"},
    )


def source_report(sources: Sources) -> list[dict[str, Any]]:
    """One entry per adapter: what it read and how much (deterministic; repo-relative locations)."""
    loc = sources.locations
    catalog = sources.catalog
    report = [
        {"adapter": "catalogue", "location": loc.get("catalogue", ""), "status": "ok",
         "found": {"services": len(catalog.services), "events": len(catalog.events),
                   "endpoints": sum(len(r.methods) for s in catalog.services for r in s.http)}},
        {"adapter": "migrations", "location": loc.get("migrations", ""), "status": "ok",
         "found": {"services": sum(1 for files in sources.migrations.values() if files),
                   "files": sum(len(files) for files in sources.migrations.values())}},
        {"adapter": "chassis-migrations", "location": loc.get("chassis-migrations", ""),
         "status": "ok" if sources.chassis else "absent", "found": {"files": len(sources.chassis)}},
    ]
    for table in sorted(sources.route_tables, key=lambda t: (t.service, t.location)):
        routes = table.doc.get("routes", []) if isinstance(table.doc, dict) else []
        report.append({"adapter": "route-table", "location": table.location, "service": table.service,
                       "status": "ok" if table.doc is not None else "absent",
                       "found": {"routes": len(routes) if isinstance(routes, list) else 0}})
    report.append({"adapter": "static-calls", "location": loc.get("calls", ""), "status": "ok",
                   "found": {"calls": len(sources.calls)}})
    return report
