"""AsyncAPI 3.0 document of a service, built from its declaration and the contract registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from summit_common.bus import Naming
from summit_contracts import REGISTRY

if TYPE_CHECKING:
    from summit_common.service import Service


def asyncapi_document(service: Service, naming: Naming | None = None) -> dict[str, Any]:
    naming = naming or Naming()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    def add(event_type: str, action: str) -> None:
        spec = REGISTRY.get(event_type)
        key = event_type.replace(".", "_")
        messages[key] = {
            "name": event_type,
            "title": spec.description,
            "contentType": "application/cloudevents+json",
            "payload": spec.json_schema(),
        }
        channels[key] = {"address": naming.subject(event_type), "messages": {key: {"$ref": f"#/components/messages/{key}"}}}
        operations[f"{action}_{key}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": spec.description,
        }

    for event_type in sorted(service.handlers):
        add(event_type, "receive")
    for event_type in sorted(service.emits):
        add(event_type, "send")
    return {
        "asyncapi": "3.0.0",
        "info": {"title": service.name, "version": service.version, "description": service.description},
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
