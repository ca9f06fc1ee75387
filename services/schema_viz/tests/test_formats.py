"""Renderers: snapshot tests of every diagram kind in every format (fixed synthetic sources under
tests/fixture_repo, so the snapshots do not churn as services are added), plus escaping rules.

Regenerate after an intended change: SCHEMA_VIZ_UPDATE_SNAPSHOTS=1 .venv/bin/pytest services/schema_viz/tests/test_formats.py
"""

from __future__ import annotations

import json
import re

import pytest

from services.schema_viz import domain, formats
from services.schema_viz.domain import Edge, Graph, Node, Selector
from services.schema_viz.maps import PlatformMap
from services.schema_viz.tests.support import SNAPSHOTS, assert_snapshot, fixture_sources


@pytest.fixture(scope="module")
def pmap() -> PlatformMap:
    return PlatformMap.build(fixture_sources())


@pytest.mark.parametrize("kind", domain.DIAGRAM_KINDS)
@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_full_diagrams_match_their_snapshots(pmap, kind, fmt):
    assert_snapshot(f"{kind}.{formats.EXTENSIONS[fmt]}", pmap.export(Selector(kind=kind), fmt).text)


SELECTED = {
    "events_orders_2hops.mmd": (Selector(kind="events", focus="service:orders", hops=2), "mermaid"),
    "events_orders_2hops.puml": (Selector(kind="events", focus="service:orders", hops=2), "plantuml"),
    "events_orders_2hops.dot": (Selector(kind="events", focus="service:orders", hops=2), "dot"),
    "erd_orders_no_chassis.mmd": (Selector(kind="erd", services=("orders",), chassis=False), "mermaid"),
    "services_billing_1hop.dot": (Selector(kind="services", focus="service:billing", hops=1), "dot"),
    "events_domain_shop.puml": (Selector(kind="events", domains=("shop",)), "plantuml"),
}


@pytest.mark.parametrize("name", sorted(SELECTED))
def test_selected_views_match_their_snapshots(pmap, name):
    selector, fmt = SELECTED[name]
    assert_snapshot(name, pmap.export(selector, fmt).text)


def test_knowledge_map_matches_its_snapshot(pmap):
    """Stored indented (readable diffs); the compact bytes the API sends are the canonical form of it."""
    body = pmap.knowledge()
    pretty = json.dumps(json.loads(body), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert_snapshot("knowledge.json", pretty)
    assert body == domain.json_bytes(json.loads((SNAPSHOTS / "knowledge.json").read_text()))


def test_rendering_twice_is_byte_identical(pmap):
    for kind in domain.DIAGRAM_KINDS:
        for fmt in formats.FORMATS:
            assert pmap.export(Selector(kind=kind), fmt).text == pmap.export(Selector(kind=kind), fmt).text


def test_every_format_names_the_diagram_and_closes_it(pmap):
    for kind in domain.DIAGRAM_KINDS:
        mermaid = pmap.export(Selector(kind=kind), "mermaid").text
        assert mermaid.splitlines()[1] == ("erDiagram" if kind == "erd" else "flowchart LR")
        plantuml = pmap.export(Selector(kind=kind), "plantuml").text
        assert plantuml.startswith(f"@startuml {kind}\n") and plantuml.endswith("@enduml\n")
        dot = pmap.export(Selector(kind=kind), "dot").text
        assert f"digraph {kind} {{" in dot and dot.endswith("}\n")


def test_dot_braces_balance_outside_labels(pmap):
    for kind in domain.DIAGRAM_KINDS:
        text = pmap.export(Selector(kind=kind), "dot").text
        outside = re.sub(r'"(?:[^"\\]|\\.)*"|<<table.*?</table>>', "", text)
        assert outside.count("{") == outside.count("}"), kind


def test_focus_is_highlighted_in_each_format(pmap):
    sel = Selector(kind="events", focus="service:orders", hops=1)
    assert "class svc_orders focus" in pmap.export(sel, "mermaid").text
    assert 'component "orders" as svc_orders <<focus>>' in pmap.export(sel, "plantuml").text
    assert "svc_orders [label=\"orders\", shape=box, style=\"rounded\", penwidth=3];" in pmap.export(sel, "dot").text


# --- escaping and identifiers ----------------------------------------------------------------


def _tricky_graph() -> Graph:
    a = Node('service:we"ird<svc>', "service", 'we"ird<svc>', attrs={"registered": True})
    b = Node("service:we-ird", "service", "we-ird", attrs={"registered": True})
    c = Node("service:we_ird", "service", "we_ird", attrs={"registered": True})
    edge = Edge("calls:x", "calls", a.id, b.id, label='GET /x?q="1"\nPOST /y\\z')
    return Graph([a, b, c], [edge])


def test_colliding_identifiers_get_distinct_hash_suffixes():
    ids = formats.make_idents(_tricky_graph().nodes.values())
    assert len(set(ids.values())) == 3
    assert ids["service:we-ird"].startswith("svc_we_ird_") and ids["service:we_ird"].startswith("svc_we_ird_")
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", v) for v in ids.values())


def test_labels_are_escaped_per_format():
    graph = _tricky_graph()
    mermaid = formats.render(graph, "services", "mermaid").text
    assert '["we#quot;ird#lt;svc>"]' in mermaid and '|"GET /x?q=#quot;1#quot;<br/>POST /y\\z"|' in mermaid
    dot = formats.render(graph, "services", "dot").text
    assert 'label="we\\"ird<svc>"' in dot and 'label="GET /x?q=\\"1\\"\\nPOST /y\\\\z"' in dot
    puml = formats.render(graph, "services", "plantuml").text
    assert "component \"we'ird<svc>\"" in puml and ": GET /x?q=\"1\"\\nPOST /y\\\\z" in puml


def test_erd_html_labels_escape_markup():
    table = Node("table:s.t", "table", "s.t", group="svc", attrs={
        "service": "svc", "schema": "s", "origin": "service", "primary_key": [], "unique": [], "triggers": [],
        "columns": [{"name": "a<b", "type": "text", "nullable": True, "primary_key": False, "foreign_key": False,
                     "unique": False}],
        "indexes": [{"name": "i", "elements": ["a"], "unique": False, "method": None, "where": "a <> '&'",
                     "include": []}]})
    dot = formats.render(Graph([table], []), "erd", "dot").text
    assert "a&lt;b : text" in dot and "where a &lt;&gt; '&amp;'" in dot
    mermaid = formats.render(Graph([table], []), "erd", "mermaid").text
    assert "text a_b" in mermaid  # attribute names outside Mermaid's alphabet are replaced


def test_shows_checks_whole_identifiers():
    graph = _tricky_graph()
    out = formats.render(graph, "services", "mermaid")
    for node_id in graph.nodes:
        assert out.shows(node_id)
    assert not out.shows("service:absent")
    partial = formats.Rendered("services", "mermaid", "svc_we_ird_extra", {"service:x": "svc_we_ird"})
    assert not partial.shows("service:x")


def test_unknown_format_or_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown format"):
        formats.render(_tricky_graph(), "services", "svg")
    with pytest.raises(ValueError, match="unknown diagram kind"):
        formats.render(_tricky_graph(), "knowledge", "dot")
