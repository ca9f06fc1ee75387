"""Reads the platform itself: the catalogue (`summit_common.catalog.export_catalog()`), each
service's OpenAPI and AsyncAPI documents (built from its declaration, no server started), and
the Markdown documents of a repository checkout (service READMEs, ADRs, runbooks).

Blocking (imports, file reads): the HTTP route runs it in a worker thread; the report CLI calls
it directly. Everything after the scan is pure (`domain.py`).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.docs_hub import domain
from summit_common.asyncapi import asyncapi_document
from summit_common.service import Service

MAX_DOC_BYTES = 1024 * 1024  # a Markdown file larger than this is skipped (and reported)
DOC_FOLDERS = (("adr", "docs/adr"), ("runbook", "docs/runbooks"))


@dataclass
class Scan:
    catalogue: domain.Catalogue
    docs: list[domain.SourceDoc]
    errors: list[str] = field(default_factory=list)  # what could not be read (never file contents)
    skipped: list[str] = field(default_factory=list)  # files found but not indexed, and why


# --- the catalogue --------------------------------------------------------------------------


def _service_objects() -> tuple[dict[str, tuple[str, Service]], list[str]]:
    """name -> (package, Service) for every `services/<pkg>/service.py`, importing each on its
    own so that one broken service does not hide the others."""
    import services

    found: dict[str, tuple[str, Service]] = {}
    errors: list[str] = []
    for info in sorted(pkgutil.iter_modules(services.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module_name = f"services.{info.name}.service"
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
            module = sys.modules.get(module_name) or importlib.import_module(module_name)
            service = module.service
        except Exception as exc:  # a half-written service of another team must not stop the index
            errors.append(f"services/{info.name}: cannot load service.py ({type(exc).__name__})")
            continue
        found[service.name] = (info.name, service)
    return found, errors


def _fallback_export(services: dict[str, tuple[str, Service]]) -> dict[str, Any]:
    """The shape of export_catalog() for the services that load (used when it raises)."""
    from summit_common.catalog import http_routes
    from summit_contracts import REGISTRY

    return {
        "events": [{"type": s.type, "owner": s.owner, "description": s.description} for s in REGISTRY],
        "services": [
            {"name": s.name, "description": s.description, "version": s.version, "consumes": sorted(s.handlers),
             "produces": sorted(s.emits), "http": http_routes(s)}
            for _, s in services.values()
        ],
    }


def openapi_of(service: Service) -> dict[str, Any] | None:
    """The service's own OpenAPI document: its router in a bare FastAPI app (no chassis routes)."""
    if service.router is None:
        return None
    app = FastAPI(title=service.name, version=service.version, description=service.description)
    app.include_router(service.router)
    return app.openapi()


def _route_details(service: Service, openapi: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, OpenAPI path) -> template (converters kept), tags, summary."""
    details: dict[tuple[str, str], dict[str, Any]] = {}
    if service.router is None or openapi is None:
        return details
    templates: dict[str, str] = {}
    for route in service.router.routes:
        if isinstance(route, APIRoute):
            templates[route.path_format] = route.path
    for path, operations in openapi.get("paths", {}).items():
        for method, op in operations.items():
            details[(method.upper(), path)] = {
                "template": templates.get(path, path),
                "tags": tuple(op.get("tags", ())),
                "summary": op.get("summary") or "",
            }
    return details


def load_catalogue() -> tuple[domain.Catalogue, dict[str, Service], dict[str, dict[str, Any]], list[str]]:
    """The catalogue, the Service objects, each service's OpenAPI document, and load errors."""
    from summit_common.catalog import export_catalog
    from summit_contracts import REGISTRY

    errors: list[str] = []
    try:
        exported = export_catalog()
        objects, errors = _service_objects()
    except Exception as exc:
        objects, errors = _service_objects()
        errors.append(f"export_catalog failed ({type(exc).__name__}); indexed the services that load")
        exported = _fallback_export(objects)
    packages = {name: pkg for name, (pkg, _) in objects.items()}
    services = {name: svc for name, (_, svc) in objects.items()}
    openapis: dict[str, dict[str, Any]] = {}
    details = {}
    for name, svc in services.items():
        try:
            doc = openapi_of(svc)
        except Exception as exc:
            errors.append(f"{name}: cannot build its OpenAPI document ({type(exc).__name__})")
            continue
        if doc is not None:
            openapis[name] = doc
        details[name] = _route_details(svc, doc)
    event_modules = {spec.type: spec.model.__module__ for spec in REGISTRY}
    catalogue = domain.catalogue_from_export(exported, packages, details, event_modules)
    return catalogue, services, openapis, errors


# --- documents ------------------------------------------------------------------------------


def spec_documents(catalogue: domain.Catalogue, services: dict[str, Service],
                   openapis: dict[str, dict[str, Any]]) -> tuple[list[domain.SourceDoc], list[str]]:
    docs: list[domain.SourceDoc] = []
    errors: list[str] = []
    for info in catalogue.services:
        if info.name in openapis:
            docs.append(domain.SourceDoc(
                key=f"openapi:{info.name}", kind="openapi", title=f"OpenAPI: {info.name}",
                content=domain.canonical_json(openapis[info.name]), services=(info.name,),
            ))
        svc = services.get(info.name)
        if svc is not None and (svc.handlers or svc.emits):
            try:
                asyncapi = asyncapi_document(svc)  # default naming: subjects without a test prefix
            except Exception as exc:
                errors.append(f"{info.name}: cannot build its AsyncAPI document ({type(exc).__name__})")
                continue
            docs.append(domain.SourceDoc(
                key=f"asyncapi:{info.name}", kind="asyncapi", title=f"AsyncAPI: {info.name}",
                content=domain.canonical_json(asyncapi), services=(info.name,),
            ))
    return docs, errors


def _read(path: Path, relative: str, errors: list[str], skipped: list[str]) -> str | None:
    try:
        size = path.stat().st_size
        if size > MAX_DOC_BYTES:
            skipped.append(f"{relative}: larger than {MAX_DOC_BYTES} bytes")
            return None
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        skipped.append(f"{relative}: not UTF-8")
    except OSError as exc:
        errors.append(f"{relative}: cannot read ({type(exc).__name__})")
    return None


def repo_documents(root: Path, catalogue: domain.Catalogue) -> tuple[list[domain.SourceDoc], list[str], list[str]]:
    """Service READMEs (services/<pkg>/README.md of catalogue services), ADRs (docs/adr/*.md) and
    runbooks (docs/runbooks/*.md) under `root`."""
    docs: list[domain.SourceDoc] = []
    errors: list[str] = []
    skipped: list[str] = []
    services_dir = root / "services"
    known = {s.package: s for s in catalogue.services}
    if services_dir.is_dir():
        for readme in sorted(services_dir.glob("*/README.md")):
            package = readme.parent.name
            relative = f"services/{package}/README.md"
            info = known.get(package)
            if info is None:
                skipped.append(f"{relative}: services/{package} is not a service in the catalogue")
                continue
            text = _read(readme, relative, errors, skipped)
            if text is not None:
                docs.append(domain.SourceDoc(key=relative, kind="readme", title=domain.title_of(text, info.name),
                                             content=text, services=(info.name,), path=relative))
    for kind, folder in DOC_FOLDERS:
        directory = root / folder
        if not directory.is_dir():
            continue
        for file in sorted(directory.glob("*.md")):
            relative = f"{folder}/{file.name}"
            text = _read(file, relative, errors, skipped)
            if text is not None:
                docs.append(domain.SourceDoc(
                    key=relative, kind=kind, title=domain.title_of(text, file.stem), content=text,
                    services=domain.services_named(text, file.name, catalogue.services), path=relative,
                ))
    return docs, errors, skipped


def scan(root: Path) -> Scan:
    catalogue, services, openapis, errors = load_catalogue()
    specs, spec_errors = spec_documents(catalogue, services, openapis)
    files, file_errors, skipped = repo_documents(root, catalogue)
    return Scan(catalogue=catalogue, docs=specs + files, errors=errors + spec_errors + file_errors, skipped=skipped)
