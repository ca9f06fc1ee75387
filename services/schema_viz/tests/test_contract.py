"""Schema-source contract tests: the live platform's sources still have the shape schema-viz reads,
and everything registered (counted at test time: services are being added) is in the map."""

from __future__ import annotations

import pytest
import yaml

from services.schema_viz import domain, sources
from services.schema_viz.maps import PlatformMap
from summit_common.catalog import discover_services, export_catalog


@pytest.fixture(scope="module")
def live():
    return PlatformMap.build(sources.live_sources())


def test_the_catalogue_export_parses_with_the_fields_schema_viz_reads():
    doc = export_catalog()
    catalog = domain.parse_catalog(doc)
    assert [s.name for s in catalog.services] == [s["name"] for s in doc["services"]]
    assert [e.type for e in catalog.events] == [e["type"] for e in doc["events"]]
    for raw, parsed in zip(doc["events"], catalog.events, strict=True):
        assert parsed.json_schema == raw["schema"] and set(parsed.producers) == set(raw["producers"])


def test_every_registered_service_event_and_endpoint_is_in_the_graph(live):
    doc = export_catalog()
    graph = live.graph
    for s in doc["services"]:
        assert graph.nodes[domain.service_id(s["name"])].attrs["registered"] is True
        for route in s["http"]:
            for method in route["methods"]:
                assert domain.endpoint_id(s["name"], method, route["path"]) in graph.nodes
    for e in doc["events"]:
        assert domain.event_id(e["type"]) in graph.nodes


def test_every_service_schema_has_its_tables_and_the_chassis_tables(live):
    found = discover_services()
    for name, service in found.items():
        tables = {n.attrs["schema"] + "." + n.label.split(".", 1)[1] for n in live.graph.of_kind("table")
                  if n.attrs["service"] == name}
        for chassis in ("inbox", "outbox", "audit_log"):
            assert f"{service.schema}.{chassis}" in tables
        own = [n for n in live.graph.of_kind("table") if n.attrs["service"] == name and n.attrs["origin"] == "service"]
        if service.migrations is not None and any("create table" in p.read_text().lower()
                                                  for p in service.migrations.glob("*.sql")):
            assert own, f"{name}: its migrations create tables, the graph has none"


def test_live_coverage_is_complete(live):
    report = live.coverage
    assert report["complete"] is True, report
    assert report["services"]["registered"] == len(export_catalog()["services"])
    adapters = {s["adapter"]: s for s in report["sources"]}
    assert adapters["chassis-migrations"]["status"] == "ok"


def test_declared_route_tables_have_the_shape_schema_viz_reads():
    doc = domain.parse_calls_doc(yaml.safe_load(sources.CALLS_FILE.read_text()))
    root = sources.repo_root()
    for table in doc.route_tables:
        path = root / table.file
        if not path.exists():
            continue  # may not exist yet: reported as absent
        routes = domain.calls_from_route_table(domain.RouteTable(table.service, table.file, yaml.safe_load(path.read_text())))
        assert routes and all(caller == table.service for caller, _, _ in routes)


def test_static_call_declarations_name_registered_services():
    registered = set(discover_services())
    doc = domain.parse_calls_doc(yaml.safe_load(sources.CALLS_FILE.read_text()))
    for call in doc.calls:
        assert call.caller in registered, f"calls.yaml: {call.caller} is not a registered service"
        assert call.callee == "*" or call.callee.startswith("external:") or call.callee in registered
