"""The provider registry: every module in PROVIDER_MODULES exposes one `ADAPTER`
(a `base.ProviderAdapter`), registered under its `name`.

Adding a provider = one new module in this folder with an `ADAPTER`, plus one line below.
Nothing else in the service names a provider: the routes take `?provider=<name>`, the
tables store it as text, and participants become ExternalRef(system=<name>, id=...).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.upskilling_connector.domain import PROVIDER_NAME
from services.upskilling_connector.providers.base import FORMATS, ProviderAdapter

PROVIDER_MODULES: tuple[str, ...] = (
    "services.upskilling_connector.providers.ecornell",
    "services.upskilling_connector.providers.itslearning",
)


class UnknownProvider(LookupError):
    pass


@dataclass(frozen=True)
class Registry:
    adapters: Mapping[str, ProviderAdapter]

    def get(self, name: str) -> ProviderAdapter:
        adapter = self.adapters.get(name)
        if adapter is None:
            raise UnknownProvider(f"unknown provider {name!r}; known: {', '.join(self.names())}")
        return adapter

    def names(self) -> list[str]:
        return sorted(self.adapters)


def check_adapter(adapter: object, origin: str) -> ProviderAdapter:
    if not isinstance(adapter, ProviderAdapter):
        raise TypeError(f"{origin}: ADAPTER must be a ProviderAdapter instance, not {type(adapter).__name__}")
    if not PROVIDER_NAME.match(getattr(adapter, "name", "") or ""):
        raise ValueError(f"{origin}: provider name {getattr(adapter, 'name', None)!r} must match {PROVIDER_NAME.pattern}"
                         " (it is the ExternalRef system of its participants)")
    if not adapter.formats or not set(adapter.formats) <= set(FORMATS):
        raise ValueError(f"{origin}: formats must be a non-empty subset of {FORMATS}")
    return adapter


def build_registry(modules: Iterable[str] = PROVIDER_MODULES) -> Registry:
    """Import each module and register its ADAPTER. Fails loudly (at service start) on a bad adapter."""
    adapters: dict[str, ProviderAdapter] = {}
    for path in modules:
        module = importlib.import_module(path)
        if not hasattr(module, "ADAPTER"):
            raise ValueError(f"{path}: a provider module must define ADAPTER")
        adapter = check_adapter(module.ADAPTER, path)
        if adapter.name in adapters:
            raise ValueError(f"{path}: provider {adapter.name!r} is registered twice")
        adapters[adapter.name] = adapter
    return Registry(adapters)


@functools.cache
def default_registry() -> Registry:
    return build_registry()
