"""Small fixed catalogues with known impact sets, in the shape of `export_catalog()`.

DEMO:
    ingest   --demo.item.created.v1-->   alpha, beta
    alpha    --demo.alpha.scored.v1-->   gamma
    beta     --demo.beta.flagged.v1-->   gamma
    gamma    --demo.gamma.done.v1-->     (nobody)
    delta    consumes demo.other.noted.v1 (unrelated)
    gateway  serves 4 routes, --demo.access.denied.v1--> audit

So removing a field of demo.item.created.v1 affects exactly alpha and beta (direct) and
gamma (through what alpha and beta emit).
"""

from __future__ import annotations

from typing import Any

REF = {
    "properties": {"system": {"type": "string"}, "id": {"type": "string"}},
    "required": ["system", "id"],
    "title": "Ref",
    "type": "object",
}

ITEM_SCHEMA = {
    "$defs": {"Ref": REF},
    "properties": {
        "item_id": {"type": "string"},
        "owner": {"$ref": "#/$defs/Ref"},
        "reviewer": {"anyOf": [{"$ref": "#/$defs/Ref"}, {"type": "null"}], "default": None},
        "tags": {"type": "array", "items": {"type": "string"}},
        "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    },
    "required": ["item_id", "owner"],
    "type": "object",
}


def _event(event_type: str, owner: str, consumers: list[str], schema: dict | None = None) -> dict[str, Any]:
    return {
        "type": event_type,
        "domain": event_type.split(".")[0],
        "major": int(event_type.rsplit(".v", 1)[1]),
        "owner": owner,
        "description": f"{event_type} (test)",
        "schema": schema or {"properties": {"id": {"type": "string"}}, "type": "object"},
        "producers": [owner],
        "consumers": sorted(consumers),
    }


def _service(name: str, consumes: list[str], produces: list[str], routes: list[tuple[str, str]] = ()) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"{name} (test)",
        "version": "1.2.0",
        "consumes": sorted(consumes),
        "produces": sorted(produces),
        "http": [{"path": path, "methods": [method], "name": f"{method.lower()}_{path}"} for method, path in routes],
        "migrations": [],
    }


def demo_catalog() -> dict[str, Any]:
    return {
        "catalog_version": 1,
        "events": [
            _event("demo.item.created.v1", "ingest", ["alpha", "beta"], ITEM_SCHEMA),
            _event("demo.alpha.scored.v1", "alpha", ["gamma"]),
            _event("demo.beta.flagged.v1", "beta", ["gamma"]),
            _event("demo.gamma.done.v1", "gamma", []),
            _event("demo.other.noted.v1", "ingest", ["delta"]),
            _event("demo.access.denied.v1", "gateway", ["audit"]),
        ],
        "services": [
            _service("ingest", [], ["demo.item.created.v1", "demo.other.noted.v1"]),
            _service("alpha", ["demo.item.created.v1"], ["demo.alpha.scored.v1"]),
            _service("beta", ["demo.item.created.v1"], ["demo.beta.flagged.v1"]),
            _service("gamma", ["demo.alpha.scored.v1", "demo.beta.flagged.v1"], ["demo.gamma.done.v1"]),
            _service("delta", ["demo.other.noted.v1"], []),
            _service("gateway", [], ["demo.access.denied.v1"], [
                ("GET", "/v1/items"), ("POST", "/v1/items"), ("GET", "/v1/items/{item_id}"), ("DELETE", "/v1/items/{item_id}"),
            ]),
            _service("audit", ["demo.access.denied.v1"], []),
        ],
    }


def cyclic_catalog() -> dict[str, Any]:
    """x consumes e.x.in and emits e.y.in; y consumes e.y.in and emits e.x.in: a loop."""
    return {
        "events": [
            _event("cyc.x.in.v1", "y", ["x"]),
            _event("cyc.y.in.v1", "x", ["y"]),
        ],
        "services": [
            _service("x", ["cyc.x.in.v1"], ["cyc.y.in.v1"]),
            _service("y", ["cyc.y.in.v1"], ["cyc.x.in.v1"]),
        ],
    }


def removal(contract: str = "demo.item.created.v1", path: str = "owner.id", **extra: Any) -> dict[str, Any]:
    return {"kind": "schema_diff", "contract": contract, "changes": [{"path": path, "change": "removed"}], **extra}
