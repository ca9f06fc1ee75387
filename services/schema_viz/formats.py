"""Renderers: a graph view -> Mermaid, PlantUML or Graphviz DOT text, for each diagram kind.

Pure and deterministic: nodes and edges come in id order, clusters in name order, columns in
their declared order, no timestamps. Node identifiers inside a diagram are the node id with a
kind prefix and every other character turned into `_` (`service:api-gateway` -> `svc_api_gateway`);
if two ids of one diagram would collide, both get a short hash of their id appended.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.schema_viz.domain import Edge, Graph, Node

FORMATS: tuple[str, ...] = ("dot", "mermaid", "plantuml")
CONTENT_TYPES: dict[str, str] = {
    "mermaid": "text/vnd.mermaid; charset=utf-8",
    "plantuml": "text/vnd.plantuml; charset=utf-8",
    "dot": "text/vnd.graphviz; charset=utf-8",
}
EXTENSIONS: dict[str, str] = {"mermaid": "mmd", "plantuml": "puml", "dot": "dot"}
_PREFIX = {"service": "svc", "external": "ext", "event": "evt", "table": "tbl", "endpoint": "ep"}
_WORDS = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Rendered:
    kind: str
    format: str
    text: str
    idents: Mapping[str, str]  # node id -> identifier in the text
    _words: set[str] = field(default_factory=set, repr=False, compare=False)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    def shows(self, node_id: str) -> bool:
        """Whether the node's identifier occurs in the text (as a whole word)."""
        ident = self.idents.get(node_id)
        if ident is None:
            return False
        if not self._words:
            self._words.update(_WORDS.findall(self.text))
        return ident in self._words


def make_idents(nodes: Iterable[Node]) -> dict[str, str]:
    by_base: dict[str, list[str]] = {}
    for node in nodes:
        name = node.id.split(":", 1)[1]
        base = f"{_PREFIX.get(node.kind, 'n')}_{re.sub(r'[^A-Za-z0-9]', '_', name)}"
        by_base.setdefault(base, []).append(node.id)
    out = {}
    for base, ids in by_base.items():
        for node_id in ids:
            out[node_id] = base if len(ids) == 1 else f"{base}_{hashlib.sha1(node_id.encode()).hexdigest()[:8]}"
    return out


def _group_ident(prefix: str, name: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9]', '_', name)}"


def _groups(nodes: Iterable[Node]) -> dict[str | None, list[Node]]:
    out: dict[str | None, list[Node]] = {}
    for n in nodes:
        out.setdefault(n.group, []).append(n)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")))


def _header(kind: str, title: str | None) -> str:
    return f"schema-viz {kind} diagram{': ' + title if title else ''} (generated; do not edit)"


# --- escaping ---------------------------------------------------------------------------------


def _mm(text: str) -> str:
    """Text inside a Mermaid flowchart "..." label."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace("\n", "<br/>")


def _mm_word(text: str) -> str:
    """A Mermaid erDiagram attribute type or name: [A-Za-z_][A-Za-z0-9_()[]-]*."""
    word = re.sub(r"[^A-Za-z0-9_()\[\]-]+", "_", text)
    return word if re.match(r"[A-Za-z_]", word) else f"_{word}"


def _mm_quoted(text: str) -> str:
    """A Mermaid erDiagram quoted string (no double quotes inside)."""
    return '"' + text.replace('"', "'").replace("\n", " ") + '"'


def _puml(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def _puml_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _dot(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --- shared ERD facts -------------------------------------------------------------------------


def _keys(col: Mapping[str, Any], table: Node) -> list[str]:
    keys = []
    if col["primary_key"]:
        keys.append("PK")
    if col["foreign_key"]:
        keys.append("FK")
    if col["unique"]:
        keys.append("UK")
    return keys


def _fk_cardinality(edge: Edge, graph: Graph) -> tuple[bool, bool]:
    """(child side at most one, parent side optional) for a references edge."""
    child = graph.nodes[edge.source].attrs
    cols = edge.attrs["columns"]
    by_name = {c["name"]: c for c in child["columns"]}
    optional = any(by_name[c]["nullable"] for c in cols if c in by_name)
    unique_sets = [set(child["primary_key"])] + [set(u["columns"]) for u in child["unique"]]
    one = any(s and s <= set(cols) for s in unique_sets)
    return one, optional


def _index_text(index: Mapping[str, Any]) -> str:
    parts = ["unique index" if index["unique"] else "index", index["name"]]
    if index["method"]:
        parts.append(f"using {index['method']}")
    text = " ".join(parts) + f" ({', '.join(index['elements'])})"
    if index["include"]:
        text += f" include ({', '.join(index['include'])})"
    if index["where"]:
        text += f" where {index['where']}"
    return text


def _group_title(kind: str, group: str | None, graph: Graph) -> str:
    if group is None:
        return ""
    if kind == "erd":
        schema = next((n.attrs["schema"] for n in graph.nodes.values() if n.group == group), group)
        return f"{group} (schema {schema})"
    return group


# --- Mermaid ----------------------------------------------------------------------------------


def _mermaid_erd(graph: Graph, ids: dict[str, str], title: str | None, focus: str | None) -> list[str]:
    lines = [f"%% {_header('erd', title)}", "erDiagram"]
    if focus:
        lines.append(f"    %% focus: {focus}")
    for group, nodes in _groups(graph.nodes.values()).items():
        lines.append(f"    %% {_group_title('erd', group, graph)}")
        for node in nodes:
            lines.append(f'    {ids[node.id]}["{node.label}"] {{')
            for col in node.attrs["columns"]:
                line = f"        {_mm_word(col['type'])} {_mm_word(col['name'])}"
                keys = _keys(col, node)
                if keys:
                    line += " " + ", ".join(keys)
                if not col["nullable"] and not col["primary_key"]:
                    line += ' "not null"'
                lines.append(line)
            lines.append("    }")
    for edge in graph.edges:
        one, optional = _fk_cardinality(edge, graph)
        child = "|o" if one else "}o"
        parent = "o|" if optional else "||"
        lines.append(f"    {ids[edge.source]} {child}--{parent} {ids[edge.target]} : {_mm_quoted(edge.label)}")
    for node in graph.nodes.values():
        for index in node.attrs["indexes"]:
            lines.append(f"    %% {node.label}: {_index_text(index)}")
        for trigger in node.attrs["triggers"]:
            lines.append(f"    %% {node.label}: trigger {trigger}")
    return lines


def _mermaid_node(node: Node, ident: str) -> str:
    label = f'"{_mm(node.label)}"'
    if node.kind == "event":
        shape = f"([{label}])"
    elif node.kind == "external":
        shape = f"{{{{{label}}}}}"
    else:
        shape = f"[{label}]"
    cls = ""
    if node.kind == "external":
        cls = ":::external"
    elif node.kind == "service" and not node.attrs.get("registered", True):
        cls = ":::unregistered"
    return f"{ident}{shape}{cls}"


def _mermaid_flow(kind: str, graph: Graph, ids: dict[str, str], title: str | None, focus: str | None) -> list[str]:
    lines = [f"%% {_header(kind, title)}", "flowchart LR"]
    for group, nodes in _groups(graph.nodes.values()).items():
        if group is None:
            lines.extend(f"    {_mermaid_node(n, ids[n.id])}" for n in nodes)
        else:
            lines.append(f'    subgraph {_group_ident("grp", group)}["{_mm(group)}"]')
            lines.extend(f"        {_mermaid_node(n, ids[n.id])}" for n in nodes)
            lines.append("    end")
    for edge in graph.edges:
        source, target = ids[edge.source], ids[edge.target]
        if edge.kind == "consumes":  # drawn as the flow: event -> consumer
            source, target = target, source
        label = f'|"{_mm(edge.label)}"|' if edge.label and kind == "services" else ""
        lines.append(f"    {source} -->{label} {target}")
    lines.append("    classDef unregistered stroke-dasharray: 5 5")
    lines.append("    classDef external fill:#f4f4f4,stroke:#888")
    lines.append("    classDef focus stroke-width:4px")
    if focus:
        lines.append(f"    class {ids[focus]} focus")
    return lines


# --- PlantUML ---------------------------------------------------------------------------------


def _plantuml_erd(graph: Graph, ids: dict[str, str], title: str | None, focus: str | None) -> list[str]:
    lines = ["@startuml erd", f"' {_header('erd', title)}", "hide circle", "hide empty members",
             "skinparam linetype ortho"]
    for group, nodes in _groups(graph.nodes.values()).items():
        indent = "  " if group is not None else ""
        if group is not None:
            lines.append(f'package "{_puml(_group_title("erd", group, graph))}" as {_group_ident("grp", group)} {{')
        for node in nodes:
            stereo = " <<focus>>" if node.id == focus else ""
            stereo += " <<chassis>>" if node.attrs["origin"] == "chassis" else ""
            lines.append(f'{indent}entity "{_puml(node.label)}" as {ids[node.id]}{stereo} {{')
            for col in node.attrs["columns"]:
                keys = "".join(f" <<{k}>>" for k in _keys(col, node))
                mark = "* " if not col["nullable"] else ""
                lines.append(f"{indent}  {mark}{_puml(col['name'])} : {_puml(col['type'])}{keys}")
            lines.append(f"{indent}}}")
        if group is not None:
            lines.append("}")
    for edge in graph.edges:
        one, optional = _fk_cardinality(edge, graph)
        child = "|o" if one else "}o"
        parent = "o|" if optional else "||"
        lines.append(f"{ids[edge.source]} {child}--{parent} {ids[edge.target]} : {_puml_label(edge.label)}")
    for node in graph.nodes.values():
        notes = [_index_text(i) for i in node.attrs["indexes"]] + [f"trigger {t}" for t in node.attrs["triggers"]]
        if notes:
            lines.append(f"note bottom of {ids[node.id]}")
            lines.extend(f"  {_puml(n)}" for n in notes)
            lines.append("end note")
    lines.append("@enduml")
    return lines


def _plantuml_node(node: Node, ident: str, focus: str | None) -> str:
    stereo = " <<focus>>" if node.id == focus else ""
    if node.kind == "event":
        return f'queue "{_puml(node.label)}" as {ident}{stereo}'
    if node.kind == "external":
        return f'cloud "{_puml(node.label)}" as {ident}{stereo}'
    if not node.attrs.get("registered", True):
        stereo += " <<unregistered>>"
    return f'component "{_puml(node.label)}" as {ident}{stereo}'


def _plantuml_flow(kind: str, graph: Graph, ids: dict[str, str], title: str | None, focus: str | None) -> list[str]:
    lines = [f"@startuml {kind}", f"' {_header(kind, title)}", "left to right direction",
             "skinparam componentStyle rectangle"]
    for group, nodes in _groups(graph.nodes.values()).items():
        if group is None:
            lines.extend(_plantuml_node(n, ids[n.id], focus) for n in nodes)
        else:
            lines.append(f'package "{_puml(group)}" as {_group_ident("grp", group)} {{')
            lines.extend(f"  {_plantuml_node(n, ids[n.id], focus)}" for n in nodes)
            lines.append("}")
    for edge in graph.edges:
        source, target = ids[edge.source], ids[edge.target]
        if edge.kind == "consumes":
            source, target = target, source
        label = f" : {_puml_label(edge.label)}" if edge.label and kind == "services" else ""
        lines.append(f"{source} --> {target}{label}")
    lines.append("@enduml")
    return lines


# --- Graphviz DOT -----------------------------------------------------------------------------

_DOT_PREAMBLE = [
    '    graph [rankdir=LR, fontname="Helvetica", fontsize=10];',
    '    node [fontname="Helvetica", fontsize=10];',
    '    edge [fontname="Helvetica", fontsize=9];',
]


def _dot_erd(graph: Graph, ids: dict[str, str], title: str | None, focus: str | None) -> list[str]:
    lines = [f"// {_header('erd', title)}", "digraph erd {", *_DOT_PREAMBLE, "    node [shape=plain];"]
    for group, nodes in _groups(graph.nodes.values()).items():
        indent = "    "
        if group is not None:
            lines.append(f"    subgraph cluster_{_group_ident('grp', group)} {{")
            lines.append(f"        label={_dot(_group_title('erd', group, graph))};")
            lines.append("        style=dashed;")
            indent = "        "
        for node in nodes:
            border = "3" if node.id == focus else "1"
            rows = [f'<tr><td bgcolor="#dddddd"><b>{_html(node.label)}</b></td></tr>']
            for col in node.attrs["columns"]:
                keys = " ".join(_keys(col, node))
                null = "" if col["nullable"] else " not null"
                text = f"{col['name']} : {col['type']}{null}{'  ' + keys if keys else ''}"
                rows.append(f'<tr><td align="left">{_html(text)}</td></tr>')
            for index in node.attrs["indexes"]:
                rows.append(f'<tr><td align="left"><i>{_html(_index_text(index))}</i></td></tr>')
            for trigger in node.attrs["triggers"]:
                rows.append(f'<tr><td align="left"><i>{_html("trigger " + trigger)}</i></td></tr>')
            table = f'<table border="{border}" cellborder="1" cellspacing="0" cellpadding="3">{"".join(rows)}</table>'
            lines.append(f"{indent}{ids[node.id]} [label=<{table}>];")
        if group is not None:
            lines.append("    }")
    for edge in graph.edges:
        one, optional = _fk_cardinality(edge, graph)
        tail = "teeodot" if one else "crowodot"
        head = "teeodot" if optional else "teetee"
        lines.append(f"    {ids[edge.source]} -> {ids[edge.target]} "
                     f"[label={_dot(edge.label)}, dir=both, arrowtail={tail}, arrowhead={head}];")
    lines.append("}")
    return lines


def _dot_node(node: Node, ident: str, focus: str | None) -> str:
    attrs = [f"label={_dot(node.label)}"]
    if node.kind == "event":
        attrs += ["shape=cds", 'style="filled"', 'fillcolor="#eef4ff"']
    elif node.kind == "external":
        attrs += ["shape=ellipse", "style=dashed"]
    else:
        style = "rounded" if node.attrs.get("registered", True) else "rounded,dashed"
        attrs += ["shape=box", f'style="{style}"']
    if node.id == focus:
        attrs.append("penwidth=3")
    return f"{ident} [{', '.join(attrs)}];"


def _dot_flow(kind: str, graph: Graph, ids: dict[str, str], title: str | None, focus: str | None) -> list[str]:
    lines = [f"// {_header(kind, title)}", f"digraph {kind} {{", *_DOT_PREAMBLE]
    for group, nodes in _groups(graph.nodes.values()).items():
        if group is None:
            lines.extend(f"    {_dot_node(n, ids[n.id], focus)}" for n in nodes)
        else:
            lines.append(f"    subgraph cluster_{_group_ident('grp', group)} {{")
            lines.append(f"        label={_dot(group)};")
            lines.append("        style=dashed;")
            lines.extend(f"        {_dot_node(n, ids[n.id], focus)}" for n in nodes)
            lines.append("    }")
    for edge in graph.edges:
        source, target = ids[edge.source], ids[edge.target]
        if edge.kind == "consumes":
            source, target = target, source
        label = f" [label={_dot(edge.label)}]" if edge.label and kind == "services" else ""
        lines.append(f"    {source} -> {target}{label};")
    lines.append("}")
    return lines


# --- entry point ------------------------------------------------------------------------------

_RENDERERS: dict[tuple[str, str], Callable[..., list[str]]] = {
    ("erd", "mermaid"): _mermaid_erd,
    ("erd", "plantuml"): _plantuml_erd,
    ("erd", "dot"): _dot_erd,
}


def render(graph: Graph, kind: str, fmt: str, *, title: str | None = None, focus: str | None = None) -> Rendered:
    """The diagram text of a view (see domain.select) in one format; ends with a newline."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if kind not in ("erd", "services", "events"):
        raise ValueError(f"unknown diagram kind {kind!r}")
    ids = make_idents(graph.nodes.values())
    focus = focus if focus in graph.nodes else None
    if kind == "erd":
        lines = _RENDERERS[(kind, fmt)](graph, ids, title, focus)
    elif fmt == "mermaid":
        lines = _mermaid_flow(kind, graph, ids, title, focus)
    elif fmt == "plantuml":
        lines = _plantuml_flow(kind, graph, ids, title, focus)
    else:
        lines = _dot_flow(kind, graph, ids, title, focus)
    return Rendered(kind=kind, format=fmt, text="\n".join(lines) + "\n", idents=ids)
