"""The event catalogue as data: type -> model, owner service, major version, JSON Schema.

Each event module registers its models with `@event_type(...)`. Importing
`summit_contracts.events` loads every family, so the registry is complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

TYPE_PATTERN = re.compile(r"^(?P<domain>[a-z][a-z0-9_]*)\.(?P<entity>[a-z][a-z0-9_]*)\.(?P<action>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)\.v(?P<major>[1-9][0-9]*)$")


class UnknownEventType(LookupError):
    """No model is registered for this type (unknown name or unknown major version)."""


class EventDataError(ValueError):
    """The event's data does not match the registered model."""


class EventData(BaseModel):
    """Base of every event payload. Frozen; unknown fields are ignored so that
    consumers keep working when a producer adds optional fields within a major."""

    model_config = ConfigDict(frozen=True, extra="ignore")


@dataclass(frozen=True)
class EventSpec:
    type: str
    model: type[EventData]
    owner: str
    description: str

    @property
    def domain(self) -> str:
        return self.type.split(".", 1)[0]

    @property
    def major(self) -> int:
        return int(self.type.rsplit(".v", 1)[1])

    def json_schema(self) -> dict[str, Any]:
        schema = self.model.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:summit:event:{self.type}"
        schema["x-summit-owner"] = self.owner
        return schema

    def validate(self, data: Any) -> EventData:
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise EventDataError(f"{self.type}: {details}") from None


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, EventSpec] = {}

    def register(self, spec: EventSpec) -> None:
        if not TYPE_PATTERN.match(spec.type):
            raise ValueError(f"event type {spec.type!r} must be <domain>.<entity>.<action>.v<major>")
        if spec.type in self._specs and self._specs[spec.type].model is not spec.model:
            raise ValueError(f"event type {spec.type!r} is registered twice")
        self._specs[spec.type] = spec

    def unregister(self, type: str) -> None:
        """Remove a type (tests that register throwaway contracts clean up with it)."""
        self._specs.pop(type, None)

    def get(self, type: str) -> EventSpec:
        try:
            return self._specs[type]
        except KeyError:
            known = sorted(t for t in self._specs if t.rsplit(".v", 1)[0] == type.rsplit(".v", 1)[0])
            hint = f" (known versions: {', '.join(known)})" if known else ""
            raise UnknownEventType(f"unknown event type {type!r}{hint}") from None

    def __contains__(self, type: str) -> bool:
        return type in self._specs

    def __iter__(self):
        return iter(sorted(self._specs.values(), key=lambda s: s.type))

    def domains(self) -> list[str]:
        return sorted({spec.domain for spec in self._specs.values()})

    def export(self) -> list[dict[str, Any]]:
        return [
            {
                "type": spec.type,
                "domain": spec.domain,
                "major": spec.major,
                "owner": spec.owner,
                "description": spec.description,
                "schema": spec.json_schema(),
            }
            for spec in self
        ]


REGISTRY = Registry()

M = TypeVar("M", bound=type[EventData])


def event_type(type: str, *, owner: str) -> Callable[[M], M]:
    """Register a payload model as the data of `type`, produced by service `owner`."""

    def register(model: M) -> M:
        description = (model.__doc__ or "").strip().split("\n")[0]
        REGISTRY.register(EventSpec(type=type, model=model, owner=owner, description=description))
        return model

    return register
