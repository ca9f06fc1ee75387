"""The graph model: building it from sources, selecting views, N hops, coverage, determinism."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.schema_viz import domain, formats
from services.schema_viz.ddl import DdlError
from services.schema_viz.domain import (
    CallDecl,
    Edge,
    Graph,
    Node,
    RouteTable,
    SelectionError,
    Selector,
    SourceError,
    build_graph,
    neighbourhood,
    parse_calls_doc,
    parse_catalog,
    select,
)
from services.schema_viz.maps import PlatformMap
from services.schema_viz.tests.support import FIXTURE, fixture_sources, shuffled


@pytest.fixture(scope="module")
def src():
    return fixture_sources()


@pytest.fixture(scope="module")
def graph(src):
    return build_graph(src)[0]


def ids(view: Graph, kind: str | None = None) -> set[str]:
    return {n for n, node in view.nodes.items() if kind is None or node.kind == kind}


# --- building --------------------------------------------------------------------------------


def test_nodes_of_every_kind_with_stable_ids(graph):
    assert ids(graph, "service") == {"service:auditor", "service:billing", "service:front-door", "service:notifier",
                                     "service:orders"}
    assert ids(graph, "event") == {"event:audit.report.filed.v1", "event:billing.invoice.paid.v1",
                                   "event:shop.order.placed.v1", "event:shop.order.shipped.v1"}
    assert ids(graph, "external") == {"external:mail-provider"}
    assert {"table:orders.orders", "table:orders.order_lines", "table:orders.shipments", "table:billing.invoices",
            "table:front_door.API Keys", "table:notifier.inbox"} <= ids(graph, "table")
    assert ids(graph, "endpoint") == {
        "endpoint:billing:GET:/v1/invoices", "endpoint:billing:GET:/v1/invoices/{invoice_id}",
        "endpoint:front-door:POST:/v1/accounts", "endpoint:orders:GET:/v1/orders", "endpoint:orders:POST:/v1/orders",
        "endpoint:orders:GET:/v1/orders/{order_id}"}


def test_every_service_gets_the_chassis_tables_in_its_own_schema(graph):
    for schema in ("billing", "front_door", "notifier", "orders"):
        for name in ("inbox", "outbox", "audit_log"):
            node = graph.nodes[f"table:{schema}.{name}"]
            assert node.attrs["origin"] == "chassis" and node.attrs["schema"] == schema
    assert graph.nodes["table:orders.orders"].attrs["origin"] == "service"


def test_event_edges_owner_producers_consumers(graph):
    edges = {(e.kind, e.source, e.target) for e in graph.edges}
    assert ("owns", "service:orders", "event:shop.order.placed.v1") in edges
    assert ("produces", "service:orders", "event:shop.order.placed.v1") in edges
    assert ("consumes", "service:billing", "event:shop.order.placed.v1") in edges
    assert ("consumes", "service:notifier", "event:billing.invoice.paid.v1") in edges
    assert ("produces", "service:auditor", "event:audit.report.filed.v1") in edges
    placed = graph.nodes["event:shop.order.placed.v1"].attrs
    assert placed["fields"] == ["order_id", "total"] and placed["required"] == ["order_id"]


def test_unregistered_names_become_marked_service_nodes_with_a_warning(src):
    graph, warnings = build_graph(src)
    assert graph.nodes["service:auditor"].attrs == {"registered": False}
    assert graph.nodes["service:orders"].attrs["registered"] is True
    assert warnings == ["auditor is not a registered service (owner of audit.report.filed.v1)"]


def test_calls_merge_route_tables_and_static_declarations(graph):
    calls = {(e.source, e.target): e for e in graph.edges if e.kind == "calls"}
    assert set(calls) == {
        ("service:front-door", "service:billing"), ("service:front-door", "service:notifier"),
        ("service:front-door", "service:orders"), ("service:billing", "service:orders"),
        ("service:notifier", "external:mail-provider")}
    to_orders = calls[("service:front-door", "service:orders")]
    assert to_orders.attrs == {"via": ["/api/orders -> /v1", "GET /readyz"], "sources": ["routes:routes.yaml", "static"]}
    assert calls[("service:front-door", "service:billing")].attrs["via"] == ["/api/invoices -> /v1/invoices",
                                                                              "GET /readyz"]
    assert calls[("service:front-door", "service:notifier")].attrs == {"via": ["GET /readyz"], "sources": ["static"]}


def test_wildcard_calls_never_target_the_caller_or_unregistered_services(graph):
    targets = {e.target for e in graph.edges if e.kind == "calls" and e.source == "service:front-door"}
    assert "service:front-door" not in targets and "service:auditor" not in targets


def test_foreign_keys_become_references_edges_with_constraint_names(graph):
    refs = {e.id: e for e in graph.edges if e.kind == "references"}
    assert set(refs) == {
        "references:table:billing.invoices->table:billing.customers#invoices_customer_id_fkey",
        "references:table:front_door.API Keys->table:front_door.accounts#API Keys_account_id_fkey",
        "references:table:orders.order_lines->table:orders.orders#order_lines_order",
        "references:table:orders.shipments->table:orders.orders#shipments_order"}
    lines = refs["references:table:orders.order_lines->table:orders.orders#order_lines_order"]
    assert lines.attrs == {"constraint": "order_lines_order", "columns": ["tenant_id", "order_id"],
                           "ref_columns": ["tenant_id", "order_id"]}


def test_table_attrs_carry_columns_keys_indexes_and_later_migrations(graph):
    orders = graph.nodes["table:orders.orders"].attrs
    assert [c["name"] for c in orders["columns"]] == ["tenant_id", "order_id", "status", "total", "placed_at",
                                                        "shipped_at"]  # shipped_at from 0002
    assert orders["primary_key"] == ["tenant_id", "order_id"]
    assert orders["indexes"] == [{"name": "orders_recent", "elements": ["tenant_id", "placed_at desc"],
                                  "unique": False, "method": None, "where": "status <> 'cancelled'", "include": []}]
    shipments = graph.nodes["table:orders.shipments"].attrs
    assert shipments["comment"] == "One shipment per order at most"
    assert shipments["unique"] == [{"name": "shipments_tenant_id_order_id_key", "columns": ["tenant_id", "order_id"]}]
    invoices = graph.nodes["table:billing.invoices"].attrs
    assert invoices["triggers"] == ["invoices_touch"]


# --- sources that are wrong fail loudly ------------------------------------------------------


def _catalog_doc() -> dict:
    return json.loads((FIXTURE / "catalog.json").read_text())


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("services"), "services: Field required"),
    (lambda d: d["events"][0].pop("owner"), "owner: Field required"),
    (lambda d: d.update(catalog_version=2), "catalogue version 2 is not supported"),
    (lambda d: d["services"].append(dict(d["services"][0])), "a service name appears twice"),
    (lambda d: d["services"][0]["consumes"].append("nope.thing.done.v1"), "unknown event types nope.thing.done.v1"),
    (lambda d: d["services"][0].update(name="Bad Name"), "String should match pattern"),
])
def test_catalogue_contract_violations(mutate, message):
    doc = _catalog_doc()
    mutate(doc)
    with pytest.raises(SourceError, match=message):
        parse_catalog(doc)


def test_catalogue_ignores_fields_it_does_not_read():
    doc = _catalog_doc()
    doc["services"][0]["new_field"] = {"anything": 1}
    doc["generated_by"] = "a newer chassis"
    assert parse_catalog(doc).services[0].name == "billing"


def test_listed_migrations_that_were_not_read_fail(src):
    broken = replace(src, migrations={**src.migrations, "orders": src.migrations["orders"][:1]})
    with pytest.raises(SourceError, match="orders: the catalogue lists migrations 0002_shipping.sql"):
        build_graph(broken)


def test_migrations_of_unknown_services_fail(src):
    with pytest.raises(SourceError, match="not in the catalogue: ghost"):
        build_graph(replace(src, migrations={**src.migrations, "ghost": [("0001_x.sql", "CREATE TABLE x (a int);")]}))


def test_unsupported_sql_names_the_service_and_file(src):
    bad = [*src.migrations["billing"], ("0002_view.sql", "CREATE VIEW v AS SELECT 1;")]
    doc = _catalog_doc()
    doc["services"][0]["migrations"].append("0002_view.sql")
    with pytest.raises(DdlError, match=r"service billing: 0002_view\.sql:1: unsupported statement CREATE VIEW"):
        build_graph(replace(src, catalog=parse_catalog(doc), migrations={**src.migrations, "billing": bad}))


@pytest.mark.parametrize("doc, message", [
    ({"calls": [{"from": "a", "to": "b"}]}, "calls.0.what: Field required"),
    ({"calls": [{"from": "a", "to": "b", "what": "x", "extra": 1}]}, "extra: Extra inputs are not permitted"),
    ({"route_table": []}, "route_table: Extra inputs"),
])
def test_call_declaration_errors(doc, message):
    with pytest.raises(SourceError, match=message):
        parse_calls_doc(doc)


@pytest.mark.parametrize("doc", [{"routes": "nope"}, {"routes": [{"prefix": "/x"}]}, ["not", "a", "mapping"]])
def test_malformed_route_tables_fail(src, doc):
    with pytest.raises(SourceError, match="r.yaml"):
        build_graph(replace(src, route_tables=[RouteTable("front-door", "r.yaml", doc)]))


def test_an_absent_route_table_is_no_error(src):
    graph, _ = build_graph(replace(src, route_tables=[RouteTable("front-door", "gone.yaml", None)]))
    calls = {(e.source, e.target): e.attrs["via"] for e in graph.edges if e.kind == "calls"}
    assert calls[("service:front-door", "service:orders")] == ["GET /readyz"]


def test_calls_to_unknown_services_show_up_as_unregistered(src):
    graph, warnings = build_graph(replace(src, calls=[*src.calls, CallDecl(caller="orders", callee="ledger",
                                                                            what="GET /v1/x")]))
    assert graph.nodes["service:ledger"].attrs["registered"] is False
    assert "ledger is not a registered service (callee in the call declarations)" in warnings


# --- selection -------------------------------------------------------------------------------


def test_views_keep_only_their_node_and_edge_kinds(graph):
    erd = select(graph, Selector(kind="erd"))
    assert {n.kind for n in erd.nodes.values()} == {"table"} and {e.kind for e in erd.edges} == {"references"}
    svc = select(graph, Selector(kind="services"))
    assert {n.kind for n in svc.nodes.values()} == {"service", "external"} and {e.kind for e in svc.edges} == {"calls"}
    ev = select(graph, Selector(kind="events"))
    assert {n.kind for n in ev.nodes.values()} == {"service", "event"}
    assert {e.kind for e in ev.edges} == {"produces", "consumes"}
    assert select(graph, Selector(kind="knowledge")).nodes.keys() == graph.nodes.keys()


def test_services_selector(graph):
    erd = select(graph, Selector(kind="erd", services=("orders",)))
    assert {n.attrs["service"] for n in erd.nodes.values()} == {"orders"} and len(erd.edges) == 2
    ev = select(graph, Selector(kind="events", services=("billing",)))
    assert ids(ev) == {"service:billing", "event:billing.invoice.paid.v1", "event:shop.order.placed.v1"}
    svc = select(graph, Selector(kind="services", services=("notifier", "front-door")))
    assert ids(svc) == {"service:notifier", "service:front-door", "external:mail-provider"}
    assert {(e.source, e.target) for e in svc.edges} == {("service:front-door", "service:notifier"),
                                                         ("service:notifier", "external:mail-provider")}


def test_domains_selector_keeps_the_services_of_those_events_only(graph):
    ev = select(graph, Selector(kind="events", domains=("billing",)))
    assert ids(ev) == {"event:billing.invoice.paid.v1", "service:billing", "service:notifier", "service:orders"}
    km = select(graph, Selector(kind="knowledge", domains=("audit",)))
    assert ids(km, "event") == {"event:audit.report.filed.v1"} and "table:orders.orders" in km.nodes


def test_chassis_tables_can_be_left_out(graph):
    erd = select(graph, Selector(kind="erd", chassis=False))
    assert all(n.attrs["origin"] == "service" for n in erd.nodes.values())
    assert "table:orders.orders" in erd.nodes and "table:notifier.inbox" not in erd.nodes


def test_node_kinds_for_the_knowledge_map(graph):
    km = select(graph, Selector(kind="knowledge", node_kinds=("service", "event")))
    assert {n.kind for n in km.nodes.values()} == {"service", "event"}
    assert {e.kind for e in km.edges} == {"owns", "produces", "consumes", "calls"}


@pytest.mark.parametrize("selector, message", [
    (Selector(kind="erd", services=("ordrs",)), "unknown services ordrs \\(did you mean orders\\?\\)"),
    (Selector(kind="erd", domains=("shop",)), "domains select events"),
    (Selector(kind="events", domains=("shopp",)), "unknown domains shopp \\(did you mean shop\\?\\)"),
    (Selector(kind="events", hops=2), "hops needs a focus"),
    (Selector(kind="events", focus="service:orders", hops=99), "hops must be between 0 and 20"),
    (Selector(kind="events", focus="table:orders.orders"), "is not in this events view"),
    (Selector(kind="erd", focus="nope:x"), "is not in the graph"),
    (Selector(kind="map"), "unknown kind 'map'"),
    (Selector(kind="erd", node_kinds=("table",)), "only be chosen for the knowledge map"),
    (Selector(kind="knowledge", node_kinds=("tables",)), "unknown node kinds tables"),
])
def test_selection_errors_say_what_is_wrong(graph, selector, message):
    with pytest.raises(SelectionError, match=message):
        select(graph, selector)


# --- N hops ----------------------------------------------------------------------------------


def test_n_hops_around_a_service_in_the_event_flow(graph):
    one = select(graph, Selector(kind="events", focus="service:orders", hops=1))
    assert ids(one) == {"service:orders", "event:shop.order.placed.v1", "event:shop.order.shipped.v1",
                        "event:billing.invoice.paid.v1"}
    two = select(graph, Selector(kind="events", focus="service:orders", hops=2))
    assert ids(two) == ids(one) | {"service:billing", "service:notifier"}
    zero = select(graph, Selector(kind="events", focus="service:orders", hops=0))
    assert ids(zero) == {"service:orders"} and zero.edges == []
    assert ids(select(graph, Selector(kind="events", focus="service:orders"))) == ids(one)  # default 1 hop


def test_n_hops_in_the_erd_and_after_a_services_filter(graph):
    erd = select(graph, Selector(kind="erd", focus="table:orders.orders", hops=1))
    assert ids(erd) == {"table:orders.orders", "table:orders.order_lines", "table:orders.shipments"}
    lonely = select(graph, Selector(kind="erd", focus="table:notifier.inbox", hops=5))
    assert ids(lonely) == {"table:notifier.inbox"}
    svc = select(graph, Selector(kind="services", services=("billing", "orders"), focus="service:billing", hops=3))
    assert ids(svc) == {"service:billing", "service:orders"}


def _reference_neighbourhood(graph: Graph, focus: str, hops: int) -> set[str]:
    reached = {focus}
    for _ in range(hops):
        step = {e.target for e in graph.edges if e.source in reached}
        step |= {e.source for e in graph.edges if e.target in reached}
        reached |= step
    return reached


def _random_graph(n: int, pairs: list[tuple[int, int]]) -> Graph:
    nodes = [Node(f"service:s{i}", "service", f"s{i}") for i in range(n)]
    edges = {}
    for a, b in pairs:
        a, b = a % n, b % n
        edge = Edge(f"calls:s{a}->s{b}", "calls", f"service:s{a}", f"service:s{b}")
        edges[edge.id] = edge
    return Graph(nodes, edges.values())


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 25), st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), max_size=60),
       st.integers(0, 99), st.integers(0, 6))
def test_n_hop_matches_a_brute_force_expansion(n, pairs, focus, hops):
    graph = _random_graph(n, pairs)
    focus_id = f"service:s{focus % n}"
    got = neighbourhood(graph, focus_id, hops)
    assert got == _reference_neighbourhood(graph, focus_id, hops)
    assert got <= neighbourhood(graph, focus_id, hops + 1)  # monotone in hops
    view = graph.subgraph(got)
    assert all(e.source in got and e.target in got for e in view.edges)


# --- determinism -----------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_shuffled_sources_give_byte_identical_maps_and_diagrams(src, graph, seed):
    other, _ = build_graph(shuffled(src, seed))
    assert domain.knowledge_map_json(other) == domain.knowledge_map_json(graph)
    for kind in domain.DIAGRAM_KINDS:
        for fmt in formats.FORMATS:
            a = formats.render(select(graph, Selector(kind=kind)), kind, fmt).text
            b = formats.render(select(other, Selector(kind=kind)), kind, fmt).text
            assert a == b, (kind, fmt, seed)


def test_building_twice_gives_identical_output(src):
    a, b = PlatformMap.build(src), PlatformMap.build(copy.deepcopy(src))
    assert a.knowledge() == b.knowledge()
    assert a.export(Selector(kind="events", focus="service:orders", hops=2), "dot").text == \
        b.export(Selector(kind="events", focus="service:orders", hops=2), "dot").text


# --- coverage --------------------------------------------------------------------------------


def test_coverage_of_the_fixture_is_complete(src):
    report = PlatformMap.build(src).coverage
    assert report["complete"] is True
    assert report["services"]["registered"] == 4 and report["events"]["registered"] == 4
    assert report["tables"]["parsed"] == len([n for n in build_graph(src)[0].nodes if n.startswith("table:")])
    assert report["unregistered_services"] == ["auditor"]
    assert [s["adapter"] for s in report["sources"]] == ["catalogue", "migrations", "chassis-migrations",
                                                         "route-table", "static-calls"]


def test_coverage_lists_what_a_diagram_does_not_show(src, graph):
    pmap = PlatformMap.build(src)
    rendered = pmap.full_renders()
    events_mermaid = rendered[("events", "mermaid")]
    cut = "\n".join(line for line in events_mermaid.text.splitlines() if "svc_notifier" not in line
                    and "shop_order_shipped" not in line)
    rendered[("events", "mermaid")] = replace(events_mermaid, text=cut, _words=set())
    erd_dot = rendered[("erd", "dot")]
    rendered[("erd", "dot")] = replace(erd_dot, text=erd_dot.text.replace("tbl_orders_shipments", "gone"), _words=set())
    report = domain.coverage(graph, src.catalog, rendered)
    assert report["complete"] is False
    assert report["services"]["missing"]["events"] == ["notifier"]
    assert report["events"]["missing"]["events"] == ["shop.order.shipped.v1"]
    assert report["tables"]["missing"]["erd"] == ["orders.shipments"]
    assert report["services"]["missing"]["services"] == [] and report["services"]["missing"]["erd"] == []


def test_coverage_notices_a_registered_service_without_any_table(src, graph):
    pmap = PlatformMap.build(src)
    rendered = pmap.full_renders()
    for fmt in formats.FORMATS:
        out = rendered[("erd", fmt)]
        rendered[("erd", fmt)] = replace(out, idents={k: v for k, v in out.idents.items()
                                                      if graph.nodes[k].attrs["service"] != "notifier"}, _words=set())
    report = domain.coverage(graph, src.catalog, rendered)
    assert report["services"]["missing"]["erd"] == ["notifier"]
