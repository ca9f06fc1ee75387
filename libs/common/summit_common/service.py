"""How a service declares itself: name, the handler table, routes, migrations, what it emits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from summit_common import privacy
from summit_common.consumer import Handler
from summit_contracts import REGISTRY

if TYPE_CHECKING:
    from summit_common.runtime import ServiceRuntime


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
    # The personal data this service holds; the chassis then answers DSAR export and
    # erasure requests for it (see summit_common.privacy).
    personal_data: privacy.PersonalData | None = None
    # Long-running loops (schedulers, sweepers) started after the consumers, cancelled on
    # stop. Each gets the runtime (pool, js, settings, unit_of_work) and must survive errors.
    workers: tuple[Callable[[ServiceRuntime], Awaitable[None]], ...] = ()
    # Environment variables whose dev defaults are public (keys, signing secrets): with
    # SUMMIT_ENV=production the service refuses to start until each is set.
    production_secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.personal_data is not None:
            handlers = {**self.handlers, **privacy.handlers_for(self.name, self.personal_data)}
            object.__setattr__(self, "handlers", handlers)
            object.__setattr__(self, "emits", tuple(dict.fromkeys([*self.emits, *privacy.PRIVACY_EMITS])))
        for event_type in [*self.handlers, *self.emits]:
            REGISTRY.get(event_type)  # fail at import time on a typo or unknown version

    @property
    def schema(self) -> str:
        return self.name.replace("-", "_")
