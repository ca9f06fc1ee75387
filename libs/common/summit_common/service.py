"""How a service declares itself: name, the handler table, routes, migrations, what it emits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from summit_common.consumer import Handler
from summit_contracts import REGISTRY


@dataclass(frozen=True)
class Service:
    name: str
    description: str
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    router: APIRouter | None = None
    migrations: Path | None = None
    emits: tuple[str, ...] = ()
    version: str = "1.0.0"
    # Sort key for the events of a pulled batch. Handlers that lock rows (SELECT ... FOR
    # UPDATE) then take locks in one global order, so concurrent batches and replicas
    # do not deadlock. None keeps delivery order.
    batch_order: Callable[[Any], str] | None = None

    def __post_init__(self) -> None:
        for event_type in [*self.handlers, *self.emits]:
            REGISTRY.get(event_type)  # fail at import time on a typo or unknown version

    @property
    def schema(self) -> str:
        return self.name.replace("-", "_")
