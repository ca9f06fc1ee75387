"""The vocabulary of a schema diff: change kinds, one change, and the compatibility flags.

Every change carries two flags, computed by the format's differ:

* ``backward``: a reader that uses the NEW schema still reads everything written with the
  OLD one (Confluent BACKWARD: "consumers upgrade first"; for an API: the new server still
  serves old clients).
* ``forward``: a reader that still uses the OLD schema reads everything written with the
  NEW one (Confluent FORWARD: "producers upgrade first"; for an API: new clients still work
  against the old server).

For plain data (JSON Schema, message payloads, request bodies) the default flags of a kind
are in ``DATA_RULES``. API documents map them by role: a request is read by the server
(flags as for data), a response is read by the client (flags swapped). See the README for
the full per-format tables.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any


class ChangeKind(enum.StrEnum):
    FIELD_ADDED = "field_added"  # an optional field, argument, parameter or body
    REQUIRED_FIELD_ADDED = "required_field_added"
    FIELD_REMOVED = "field_removed"  # a field that was optional
    REQUIRED_FIELD_REMOVED = "required_field_removed"
    FIELD_RENAMED = "field_renamed"
    FIELD_RENUMBERED = "field_renumbered"  # protobuf: same name, new field number
    FIELD_MADE_OPTIONAL = "field_made_optional"
    FIELD_MADE_REQUIRED = "field_made_required"
    TYPE_WIDENED = "type_widened"  # the new type accepts every old value and more (integer -> number, T -> T|null)
    TYPE_NARROWED = "type_narrowed"  # the reverse
    TYPE_CHANGED = "type_changed"  # neither accepts all values of the other (string -> integer)
    ENUM_VALUE_ADDED = "enum_value_added"
    ENUM_VALUE_REMOVED = "enum_value_removed"
    CONSTRAINT_TIGHTENED = "constraint_tightened"  # maxLength 200 -> 100, a format or pattern added, enum introduced
    CONSTRAINT_RELAXED = "constraint_relaxed"
    CONSTRAINT_CHANGED = "constraint_changed"  # changed with no order (pattern A -> pattern B), or an unsupported keyword changed
    TYPE_ADDED = "type_added"  # a named definition: protobuf message/enum, GraphQL type
    TYPE_REMOVED = "type_removed"
    OPERATION_ADDED = "operation_added"  # OpenAPI path+method, protobuf rpc, GraphQL root field
    OPERATION_REMOVED = "operation_removed"
    RESPONSE_ADDED = "response_added"  # OpenAPI status code
    RESPONSE_REMOVED = "response_removed"
    CHANNEL_ADDED = "channel_added"  # AsyncAPI
    CHANNEL_REMOVED = "channel_removed"
    MESSAGE_ADDED = "message_added"  # AsyncAPI: a message on a channel
    MESSAGE_REMOVED = "message_removed"
    CONTRACT_REMOVED = "contract_removed"  # the gate: a published contract disappeared


K = ChangeKind

# (backward, forward) for data read by a consumer; see the module docstring.
DATA_RULES: dict[ChangeKind, tuple[bool, bool]] = {
    K.FIELD_ADDED: (True, True),
    K.REQUIRED_FIELD_ADDED: (False, True),
    K.FIELD_REMOVED: (True, True),
    K.REQUIRED_FIELD_REMOVED: (True, False),
    K.FIELD_RENAMED: (False, False),
    K.FIELD_RENUMBERED: (False, False),
    K.FIELD_MADE_OPTIONAL: (True, False),
    K.FIELD_MADE_REQUIRED: (False, True),
    K.TYPE_WIDENED: (True, False),
    K.TYPE_NARROWED: (False, True),
    K.TYPE_CHANGED: (False, False),
    K.ENUM_VALUE_ADDED: (True, False),
    K.ENUM_VALUE_REMOVED: (False, True),
    K.CONSTRAINT_TIGHTENED: (False, True),
    K.CONSTRAINT_RELAXED: (True, False),
    K.CONSTRAINT_CHANGED: (False, False),
    K.TYPE_ADDED: (True, True),
    K.TYPE_REMOVED: (False, True),
    K.OPERATION_ADDED: (True, False),
    K.OPERATION_REMOVED: (False, True),
    K.RESPONSE_ADDED: (False, True),
    K.RESPONSE_REMOVED: (True, False),
    K.CHANNEL_ADDED: (True, True),
    K.CHANNEL_REMOVED: (False, True),
    K.MESSAGE_ADDED: (True, False),
    K.MESSAGE_REMOVED: (False, True),
    K.CONTRACT_REMOVED: (False, False),
}


class DiffError(ValueError):
    """A document cannot be read or compared (bad input: the message says what and where)."""


@dataclass(frozen=True, order=True)
class Change:
    path: str
    kind: ChangeKind
    detail: str
    backward: bool
    forward: bool
    old: Any = field(default=None, compare=False)
    new: Any = field(default=None, compare=False)

    @property
    def id(self) -> str:
        """Stable name of the change, as the allow-list refers to it: '<kind>:<path>'."""
        return f"{self.kind}:{self.path}"

    @property
    def classification(self) -> str:
        if self.backward and self.forward:
            return "additive"
        if self.backward:
            return "backward-compatible"
        if self.forward:
            return "forward-compatible"
        return "breaking"

    def swapped(self) -> Change:
        """The same change seen from the other side (a response is read by the client)."""
        return replace(self, backward=self.forward, forward=self.backward)

    def at(self, prefix: str) -> Change:
        return replace(self, path=f"{prefix}{self.path}")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": str(self.kind),
            "path": self.path,
            "detail": self.detail,
            "backward": self.backward,
            "forward": self.forward,
            "classification": self.classification,
        }
        if self.old is not None:
            out["old"] = self.old
        if self.new is not None:
            out["new"] = self.new
        return out


def change(kind: ChangeKind, path: str, detail: str, *, old: Any = None, new: Any = None,
           backward: bool | None = None, forward: bool | None = None) -> Change:
    """A change with the data-semantics flags of its kind, unless overridden."""
    b, f = DATA_RULES[kind]
    return Change(path=path, kind=kind, detail=detail, backward=b if backward is None else backward,
                  forward=f if forward is None else forward, old=old, new=new)
