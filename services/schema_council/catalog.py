"""The platform's own catalogue, as schema-council reads it: `summit catalog export` (event
types with owner, schema, producers and consumers; services with their routes), each
service's OpenAPI and AsyncAPI documents, and the gate's published baseline (per-contract
compatibility mode and the history of published schemas).

All of it is code, fixed while the process runs, so it is built once per process (in a
worker thread: importing every service is synchronous) and cached.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from fastapi import FastAPI

from services.schema_council import gate_logic
from services.schema_council.diff import Mode
from summit_common.logs import get_logger

log = get_logger(component="schema-council")

_lock = asyncio.Lock()


_platform_cache: dict[str, Any] = {}


def _platform() -> dict[str, Any]:
    """`summit catalog export`. It imports every service; if one does not import (a service
    being written), fall back to the contract registry alone - owners, no consumers or
    services - marked `"complete": false`, and try again next time."""
    if "value" in _platform_cache:
        return _platform_cache["value"]
    from summit_common.catalog import export_catalog
    from summit_contracts import REGISTRY

    try:
        value = export_catalog()
    except Exception as exc:  # a broken neighbour must not take proposals down
        log.warning("catalog_export_failed", error=type(exc).__name__)
        events = [{**e, "producers": [e["owner"]], "consumers": []} for e in REGISTRY.export()]
        return {"catalog_version": 1, "events": events, "services": [], "complete": False}
    _platform_cache["value"] = value
    return value


@functools.lru_cache(maxsize=1)
def _baseline() -> dict[str, Any]:
    from services.schema_council.gate import BASELINE

    if not BASELINE.exists():
        return {"format": gate_logic.FORMAT, "contracts": {}}
    return gate_logic.validate_baseline(json.loads(BASELINE.read_text(encoding="utf-8")))


async def platform_catalog() -> dict[str, Any]:
    async with _lock:
        return await asyncio.to_thread(_platform)


async def published_baseline() -> dict[str, Any]:
    return await asyncio.to_thread(_baseline)


def event_modes(platform: dict[str, Any], baseline: dict[str, Any]) -> dict[str, str]:
    """The compatibility mode the gate applies to each event type."""
    return {e["type"]: gate_logic.contract_mode(baseline, e["type"]).value for e in platform["events"]}


def event_mode(baseline: dict[str, Any], event_type: str) -> Mode:
    return gate_logic.contract_mode(baseline, event_type)


def event_history(platform: dict[str, Any], baseline: dict[str, Any], event_type: str) -> list[tuple[str, Any]]:
    """The published schemas of an event type, oldest first, ending with the one in the
    repository (when it differs from the last published one)."""
    current = next(e["schema"] for e in platform["events"] if e["type"] == event_type)
    entry = baseline.get("contracts", {}).get(event_type)
    history: list[tuple[str, Any]] = []
    if entry:
        history = [(f"baseline-{v['version']}", v["schema"]) for v in entry["versions"]]
    if not history or gate_logic.fingerprint(history[-1][1]) != gate_logic.fingerprint(current):
        history.append(("repository", current))
    return history


@functools.lru_cache(maxsize=64)
def _service_document(name: str, kind: str) -> dict[str, Any] | None:
    from summit_common.asyncapi import asyncapi_document
    from summit_common.catalog import discover_services

    service = discover_services().get(name)
    if service is None:
        return None
    if kind == "asyncapi":
        return asyncapi_document(service)
    app = FastAPI(title=service.name, version=service.version, description=service.description)
    if service.router is not None:
        app.include_router(service.router)
    return app.openapi()


async def service_document(name: str, kind: str) -> dict[str, Any] | None:
    """The OpenAPI or AsyncAPI document of a platform service (None when there is no such service)."""
    async with _lock:
        return await asyncio.to_thread(_service_document, name, kind)
