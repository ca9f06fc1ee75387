"""The platform map: the graph built once from the sources, with what the routes and the CLI ask of it
(diagram exports, knowledge maps, the coverage report)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from services.schema_viz import domain, formats, sources
from services.schema_viz.domain import Graph, Selector, Sources

SOURCE_DIR_ENV = "SCHEMA_VIZ_SOURCE_DIR"


@dataclass(frozen=True)
class Export:
    kind: str
    format: str
    text: str
    nodes: int
    edges: int

    @property
    def content_type(self) -> str:
        return formats.CONTENT_TYPES[self.format]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass
class PlatformMap:
    sources: Sources
    graph: Graph
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, src: Sources) -> PlatformMap:
        graph, warnings = domain.build_graph(src)
        return cls(sources=src, graph=graph, warnings=warnings)

    def export(self, selector: Selector, fmt: str) -> Export:
        view = domain.select(self.graph, selector)
        rendered = formats.render(view, selector.kind, fmt, focus=selector.focus, title=_title(selector))
        return Export(selector.kind, fmt, rendered.text, len(view.nodes), len(view.edges))

    def knowledge(self, selector: Selector | None = None) -> bytes:
        view = domain.select(self.graph, selector or Selector(kind="knowledge"))
        return domain.knowledge_map_json(view)

    def full_renders(self) -> dict[tuple[str, str], formats.Rendered]:
        out = {}
        for kind in domain.DIAGRAM_KINDS:
            view = domain.select(self.graph, Selector(kind=kind))
            for fmt in formats.FORMATS:
                out[(kind, fmt)] = formats.render(view, kind, fmt)
        return out

    @cached_property
    def coverage(self) -> dict[str, Any]:
        return domain.coverage(self.graph, self.sources.catalog, self.full_renders(),
                               sources=sources.source_report(self.sources), warnings=self.warnings)


def _title(selector: Selector) -> str | None:
    parts = []
    if selector.services is not None:
        parts.append("services " + ", ".join(sorted(selector.services)))
    if selector.domains is not None:
        parts.append("domains " + ", ".join(sorted(selector.domains)))
    if selector.focus is not None:
        hops = selector.hops if selector.hops is not None else 1
        parts.append(f"{hops} hop{'' if hops == 1 else 's'} around {selector.focus}")
    if not selector.chassis:
        parts.append("without chassis tables")
    return "; ".join(parts) or None


def load_sources() -> Sources:
    """SCHEMA_VIZ_SOURCE_DIR when set (a frozen source folder), else the live platform."""
    folder = os.environ.get(SOURCE_DIR_ENV, "").strip()
    if folder:
        return sources.directory_sources(Path(folder))
    return sources.live_sources()


def load() -> PlatformMap:
    return PlatformMap.build(load_sources())
