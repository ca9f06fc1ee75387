"""AsyncAPI 2.x / 3.0 diff: channels, the messages on each channel, and their payload and
header schemas (JSON Schema; other `schemaFormat`s are rejected).

Roles: the consumers of a channel read its messages, so payload and header changes carry
the data flags (BACKWARD: a consumer on the new document reads old messages).

* channel (its `address`, else its key) removed: breaks BACKWARD (consumers of the new
  document no longer find it; its past messages cannot be read); added: compatible.
* message (its `name`, else `messageId`, else its key) removed from a channel: breaks
  BACKWARD; added to an existing channel: breaks FORWARD (old consumers receive a message
  they do not know), like an enum value.
"""

from __future__ import annotations

from typing import Any

from services.schema_council.diff.jsonschema import Scope, diff_schemas
from services.schema_council.diff.jsonschema import resolve as resolve_ref
from services.schema_council.diff.model import Change, ChangeKind, DiffError, change

K = ChangeKind
JSON_SCHEMA_FORMATS = ("application/vnd.aai.asyncapi", "application/schema+json", "application/schema+yaml")


def _deref(doc: dict, node: Any) -> Any:
    hops = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        node = resolve_ref(node["$ref"], Scope((doc,)))
        hops += 1
        if hops > 16:
            raise DiffError("circular $ref")
    return node


def _major(doc: Any) -> int:
    if not isinstance(doc, dict):
        raise DiffError("an AsyncAPI document must be a JSON/YAML object")
    version = doc.get("asyncapi")
    if not isinstance(version, str) or version.split(".")[0] not in ("2", "3"):
        raise DiffError("an AsyncAPI document needs \"asyncapi\": \"2.x\" or \"3.x\"")
    if not isinstance(doc.get("channels", {}), dict):
        raise DiffError("channels must be an object")
    return int(version.split(".")[0])


def _message_key(message: dict, fallback: str) -> str:
    for key in ("name", "messageId"):
        if isinstance(message.get(key), str) and message[key]:
            return message[key]
    return fallback


def _check_message(message: Any, where: str) -> dict:
    if not isinstance(message, dict):
        raise DiffError(f"{where}: a message must be an object")
    fmt = message.get("schemaFormat")
    if fmt is not None and not str(fmt).startswith(JSON_SCHEMA_FORMATS):
        raise DiffError(f"{where}: schemaFormat {fmt!r} is not supported (JSON Schema only)")
    return message


def channels(doc: Any) -> dict[str, dict[str, dict]]:
    """channel -> message key -> message (references resolved)."""
    major = _major(doc)
    out: dict[str, dict[str, dict]] = {}
    for channel_id, raw in (doc.get("channels") or {}).items():
        ch = _deref(doc, raw)
        if not isinstance(ch, dict):
            raise DiffError(f"channel {channel_id} must be an object")
        messages: dict[str, dict] = {}
        if major == 3:
            name = ch.get("address") or channel_id
            for key, m in (ch.get("messages") or {}).items():
                m = _check_message(_deref(doc, m), f"channel {name} message {key}")
                messages[_message_key(m, key)] = m
        else:
            name = channel_id
            for action in ("publish", "subscribe"):
                op = ch.get(action)
                if not isinstance(op, dict) or "message" not in op:
                    continue
                m = _deref(doc, op["message"])
                listed = m.get("oneOf") if isinstance(m, dict) and "oneOf" in m else [m]
                for i, item in enumerate(listed):
                    ref = item.get("$ref", "") if isinstance(item, dict) else ""
                    resolved = _check_message(_deref(doc, item), f"channel {name} {action} message {i}")
                    fallback = ref.rsplit("/", 1)[-1] if ref else f"#{i}"
                    messages[f"{action}:{_message_key(resolved, fallback)}"] = resolved
        out[str(name)] = messages
    return out


def check(doc: Any) -> None:
    channels(doc)


def diff_asyncapi(old: dict, new: dict) -> list[Change]:
    old_ch, new_ch = channels(old), channels(new)
    changes: list[Change] = []
    for name in sorted(old_ch.keys() - new_ch.keys()):
        changes.append(change(K.CHANNEL_REMOVED, name, f"channel {name} removed"))
    for name in sorted(new_ch.keys() - old_ch.keys()):
        changes.append(change(K.CHANNEL_ADDED, name, f"channel {name} added"))
    for name in sorted(old_ch.keys() & new_ch.keys()):
        o_msgs, n_msgs = old_ch[name], new_ch[name]
        for key in sorted(o_msgs.keys() - n_msgs.keys()):
            changes.append(change(K.MESSAGE_REMOVED, f"{name} {key}", f"message {key} removed from channel {name}"))
        for key in sorted(n_msgs.keys() - o_msgs.keys()):
            changes.append(change(K.MESSAGE_ADDED, f"{name} {key}", f"message {key} added to channel {name}"))
        for key in sorted(o_msgs.keys() & n_msgs.keys()):
            for part in ("payload", "headers"):
                o_schema = o_msgs[key].get(part, True)
                n_schema = n_msgs[key].get(part, True)
                found = diff_schemas(o_schema, n_schema, old_root=old, new_root=new)
                changes += [c.at(f"{name} {key} {part} ") for c in found]
    return changes
