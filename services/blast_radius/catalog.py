"""Where the catalogue comes from: the live one of this deployment, or a file.

The live catalogue (`summit_common.catalog.export_catalog()`) imports every service
package, which takes a second or two the first time; it is loaded once per process, in a
worker thread, on the first assessment, and kept (the catalogue is code: it changes with
a deploy, which restarts the process).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from services.blast_radius.config import BlastRadiusSettings
from services.blast_radius.domain import CatalogGraph
from summit_common.logs import get_logger

log = get_logger(component="blast-radius-catalog")


class CatalogUnavailable(RuntimeError):
    """The catalogue could not be loaded (a service fails to import, a bad file, ...)."""


class CatalogSource:
    def __init__(self, settings: BlastRadiusSettings) -> None:
        self._file = settings.catalog_file
        self._graph: CatalogGraph | None = None
        self._lock = asyncio.Lock()

    @property
    def origin(self) -> str:
        return f"file:{self._file}" if self._file else "live"

    async def graph(self) -> CatalogGraph:
        if self._graph is None:
            async with self._lock:
                if self._graph is None:
                    try:
                        data = await asyncio.to_thread(self._load)
                        self._graph = CatalogGraph.from_export(data)
                    except Exception as exc:  # importing every service runs their code: any error is possible
                        log.error("catalog_unavailable", origin=self.origin, error=type(exc).__name__)
                        raise CatalogUnavailable(f"the catalogue ({self.origin}) could not be loaded: {type(exc).__name__}: {exc}") from exc
                    log.info("catalog_loaded", origin=self.origin, fingerprint=self._graph.fingerprint,
                             events=len(self._graph.events), services=len(self._graph.services))
        return self._graph

    def _load(self) -> dict[str, Any]:
        if self._file:
            return json.loads(Path(self._file).read_text())
        from summit_common.catalog import export_catalog

        return export_catalog()
