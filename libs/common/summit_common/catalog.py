"""The platform's own catalogue: services discovered from `services/*/service.py`, the
events they produce and consume, and their HTTP routes. Exported as JSON by
`summit catalog export`; governance services read it."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from typing import Any

from fastapi import FastAPI

from summit_common.service import Service
from summit_contracts import REGISTRY


def discover_services() -> dict[str, Service]:
    """Every `services.<pkg>.service:service`, keyed by service name."""
    import services

    found: dict[str, Service] = {}
    for info in sorted(pkgutil.iter_modules(services.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        if importlib.util.find_spec(f"services.{info.name}.service") is None:
            continue  # a package without service.py is not a service (yet)
        module = importlib.import_module(f"services.{info.name}.service")
        service = module.service
        found[service.name] = service
    return found


def get_service(name: str) -> Service:
    services = discover_services()
    key = name.replace("_", "-")
    if key not in services:
        raise LookupError(f"unknown service {name!r}; known: {', '.join(sorted(services))}")
    return services[key]


def http_routes(service: Service) -> list[dict[str, Any]]:
    """The service's own routes, read from the OpenAPI document (public API; nested routers included)."""
    if service.router is None:
        return []
    app = FastAPI()
    app.include_router(service.router)
    routes = []
    for path, operations in app.openapi().get("paths", {}).items():
        for method, operation in operations.items():
            routes.append({"path": path, "methods": [method.upper()], "name": operation.get("operationId", "")})
    return sorted(routes, key=lambda r: (r["path"], r["methods"]))


def export_catalog() -> dict[str, Any]:
    services = discover_services()
    consumers: dict[str, list[str]] = {}
    producers: dict[str, list[str]] = {}
    for service in services.values():
        for event_type in service.handlers:
            consumers.setdefault(event_type, []).append(service.name)
        for event_type in service.emits:
            producers.setdefault(event_type, []).append(service.name)
    events = []
    for entry in REGISTRY.export():
        entry["producers"] = sorted(set(producers.get(entry["type"], [])) | {entry["owner"]})
        entry["consumers"] = sorted(consumers.get(entry["type"], []))
        events.append(entry)
    return {
        "catalog_version": 1,
        "events": events,
        "services": [
            {
                "name": s.name,
                "description": s.description,
                "version": s.version,
                "consumes": sorted(s.handlers),
                "produces": sorted(s.emits),
                "http": http_routes(s),
                "migrations": sorted(p.name for p in s.migrations.glob("*.sql")) if s.migrations else [],
            }
            for s in services.values()
        ],
    }
