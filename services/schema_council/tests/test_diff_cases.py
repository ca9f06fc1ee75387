"""Synthetic schema pairs with known changes: every change kind, every format, every
compatibility mode. Each row says exactly which changes the diff must find (kind and path)
and whether the pair passes BACKWARD and FORWARD; the other modes follow from those (FULL
is both, NONE always passes) and are checked too, transitive modes in `TRANSITIVE`."""

from __future__ import annotations

import pytest

from services.schema_council.diff import ChangeKind, Mode, VersionDiff, all_modes, assess, diff_documents

K = ChangeKind


def obj(props: dict, required: tuple[str, ...] = (), **extra) -> dict:
    return {"type": "object", "properties": props, "required": list(required), **extra}


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741
N = {"type": "number"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}], "default": None}


PERSON = obj({"id": {"type": "string", "maxLength": 200}, "system": S}, ("id", "system"))


def with_defs(person: dict) -> dict:
    return {"$defs": {"Ref": person}, **obj({"participant": {"$ref": "#/$defs/Ref"}}, ("participant",))}


def openapi(paths: dict) -> dict:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths}


def op(*, params=(), body=None, responses=None) -> dict:
    out: dict = {"parameters": list(params), "responses": responses or {"200": {"description": "ok"}}}
    if body is not None:
        out["requestBody"] = body
    return out


def json_response(schema: dict, status: str = "200") -> dict:
    return {status: {"description": "ok", "content": {"application/json": {"schema": schema}}}}


THING = obj({"id": S, "name": S}, ("id", "name"))


def asyncapi(channels: dict) -> dict:
    return {"asyncapi": "3.0.0", "info": {"title": "t", "version": "1"}, "channels": channels}


def channel(address: str, **messages: dict) -> dict:
    return {"address": address, "messages": {k: {"name": k, "payload": v} for k, v in messages.items()}}


PROTO = """
syntax = "proto3";
package shop.v1;
message Order {
  string id = 1;
  int32 quantity = 2;
  Status status = 3;
}
enum Status { UNKNOWN = 0; OPEN = 1; }
service Orders { rpc Get (Order) returns (Order); }
"""

SDL = """
type Query { user(id: ID!): User }
type User { id: ID! name: String! role: Role }
enum Role { ADMIN USER }
union Result = User
type Team { id: ID! }
"""

# (id, kind, old, new, expected {(kind, path)}, backward, forward, rename_hints)
CASES = [
    ("identical", "jsonschema", obj({"a": S}, ("a",)), obj({"a": S}, ("a",)), set(), True, True, None),
    ("optional field added", "jsonschema", obj({"a": S}), obj({"a": S, "b": I}), {(K.FIELD_ADDED, "$.b")}, True, True, None),
    ("required field added", "jsonschema", obj({"a": S}), obj({"a": S, "b": I}, ("b",)),
     {(K.REQUIRED_FIELD_ADDED, "$.b")}, False, True, None),
    ("optional field removed", "jsonschema", obj({"a": S, "b": I}), obj({"a": S}), {(K.FIELD_REMOVED, "$.b")}, True, True, None),
    ("required field removed", "jsonschema", obj({"a": S, "b": I}, ("b",)), obj({"a": S}),
     {(K.REQUIRED_FIELD_REMOVED, "$.b")}, True, False, None),
    ("rename detected by similar name and same schema", "jsonschema", obj({"user_name": S}, ("user_name",)),
     obj({"userName": S}, ("userName",)), {(K.FIELD_RENAMED, "$.user_name")}, False, False, None),
    ("rename by x-renamed-from hint", "jsonschema", obj({"name": S}), obj({"full_name": {**S, "x-renamed-from": "name"}}),
     {(K.FIELD_RENAMED, "$.name")}, False, False, None),
    ("rename by rename_hints, with a type change", "jsonschema", obj({"count": I}), obj({"total": N}),
     {(K.FIELD_RENAMED, "$.count"), (K.TYPE_WIDENED, "$.total")}, False, False, {"$.count": "total"}),
    ("dissimilar names are remove + add, not a rename", "jsonschema", obj({"likes": I}), obj({"zebra": I}),
     {(K.FIELD_REMOVED, "$.likes"), (K.FIELD_ADDED, "$.zebra")}, True, True, None),
    ("similar names but another type are not a rename", "jsonschema", obj({"userId": S}), obj({"user_id": I}),
     {(K.FIELD_REMOVED, "$.userId"), (K.FIELD_ADDED, "$.user_id")}, True, True, None),
    ("integer -> number widens", "jsonschema", obj({"n": I}), obj({"n": N}), {(K.TYPE_WIDENED, "$.n")}, True, False, None),
    ("number -> integer narrows", "jsonschema", obj({"n": N}), obj({"n": I}), {(K.TYPE_NARROWED, "$.n")}, False, True, None),
    ("string -> integer is incompatible", "jsonschema", obj({"n": S}), obj({"n": I}), {(K.TYPE_CHANGED, "$.n")}, False, False, None),
    ("becomes nullable (pydantic anyOf null)", "jsonschema", obj({"n": I}), obj({"n": nullable(I)}),
     {(K.TYPE_WIDENED, "$.n")}, True, False, None),
    ("no longer nullable", "jsonschema", obj({"n": {"type": ["string", "null"]}}), obj({"n": S}),
     {(K.TYPE_NARROWED, "$.n")}, False, True, None),
    ("required -> optional", "jsonschema", obj({"a": S}, ("a",)), obj({"a": S}), {(K.FIELD_MADE_OPTIONAL, "$.a")}, True, False, None),
    ("optional -> required", "jsonschema", obj({"a": S}), obj({"a": S}, ("a",)), {(K.FIELD_MADE_REQUIRED, "$.a")}, False, True, None),
    ("enum value added", "jsonschema", obj({"e": {"enum": ["a", "b"]}}), obj({"e": {"enum": ["a", "b", "c"]}}),
     {(K.ENUM_VALUE_ADDED, "$.e")}, True, False, None),
    ("enum value removed", "jsonschema", obj({"e": {"type": "string", "enum": ["a", "b"]}}),
     obj({"e": {"type": "string", "enum": ["a"]}}), {(K.ENUM_VALUE_REMOVED, "$.e")}, False, True, None),
    ("enum introduced on a string", "jsonschema", obj({"e": S}), obj({"e": {"type": "string", "enum": ["a"]}}),
     {(K.CONSTRAINT_TIGHTENED, "$.e")}, False, True, None),
    ("maxLength decreased", "jsonschema", obj({"s": {"type": "string", "maxLength": 200}}),
     obj({"s": {"type": "string", "maxLength": 100}}), {(K.CONSTRAINT_TIGHTENED, "$.s")}, False, True, None),
    ("maxLength increased", "jsonschema", obj({"s": {"type": "string", "maxLength": 100}}),
     obj({"s": {"type": "string", "maxLength": 200}}), {(K.CONSTRAINT_RELAXED, "$.s")}, True, False, None),
    ("format added", "jsonschema", obj({"t": S}), obj({"t": {"type": "string", "format": "date-time"}}),
     {(K.CONSTRAINT_TIGHTENED, "$.t")}, False, True, None),
    ("format changed", "jsonschema", obj({"t": {"type": "string", "format": "date-time"}}),
     obj({"t": {"type": "string", "format": "date"}}), {(K.CONSTRAINT_CHANGED, "$.t")}, False, False, None),
    ("pattern removed", "jsonschema", obj({"s": {"type": "string", "pattern": "^[a-z]+$"}}), obj({"s": S}),
     {(K.CONSTRAINT_RELAXED, "$.s")}, True, False, None),
    ("minimum raised to an exclusive bound", "jsonschema", obj({"n": {"type": "integer", "minimum": 1}}),
     obj({"n": {"type": "integer", "exclusiveMinimum": 1}}), {(K.CONSTRAINT_TIGHTENED, "$.n")}, False, True, None),
    ("maximum removed from a nullable integer", "jsonschema", obj({"n": nullable({"type": "integer", "maximum": 5})}),
     obj({"n": nullable(I)}), {(K.CONSTRAINT_RELAXED, "$.n")}, True, False, None),
    ("multipleOf 2 -> 4 tightens", "jsonschema", obj({"n": {"type": "integer", "multipleOf": 2}}),
     obj({"n": {"type": "integer", "multipleOf": 4}}), {(K.CONSTRAINT_TIGHTENED, "$.n")}, False, True, None),
    ("object closed with additionalProperties false", "jsonschema", obj({"a": S}), obj({"a": S}, additionalProperties=False),
     {(K.CONSTRAINT_TIGHTENED, "$")}, False, True, None),
    ("optional field added to a closed object breaks old readers", "jsonschema", obj({"a": S}, additionalProperties=False),
     obj({"a": S, "b": S}, additionalProperties=False), {(K.FIELD_ADDED, "$.b")}, True, False, None),
    ("change inside a $ref'd definition", "jsonschema", with_defs(PERSON),
     with_defs(obj({"id": {"type": "string", "maxLength": 50}, "system": S}, ("id", "system"))),
     {(K.CONSTRAINT_TIGHTENED, "$.participant.id")}, False, True, None),
    ("array item type changed", "jsonschema", obj({"tags": {"type": "array", "items": S}}),
     obj({"tags": {"type": "array", "items": I}}), {(K.TYPE_CHANGED, "$.tags[*]")}, False, False, None),
    ("union member added", "jsonschema", obj({"u": {"anyOf": [obj({"a": S}, ("a",)), obj({"b": S}, ("b",))]}}),
     obj({"u": {"anyOf": [obj({"a": S}, ("a",)), obj({"b": S}, ("b",)), obj({"c": S}, ("c",))]}}),
     {(K.TYPE_WIDENED, "$.u")}, True, False, None),
    ("unsupported keyword changed is conservative", "jsonschema", obj({"s": S}), obj({"s": {**S, "not": {"const": "x"}}}),
     {(K.CONSTRAINT_CHANGED, "$.s")}, False, False, None),
    # OpenAPI: the server reads requests (data flags), clients read responses (flags swapped).
    ("openapi operation removed", "openapi", openapi({"/a": {"get": op()}, "/b": {"get": op()}}),
     openapi({"/a": {"get": op()}}), {(K.OPERATION_REMOVED, "GET /b")}, False, True, None),
    ("openapi operation added", "openapi", openapi({"/a": {"get": op()}}),
     openapi({"/a": {"get": op(), "post": op()}}), {(K.OPERATION_ADDED, "POST /a")}, True, False, None),
    ("openapi path parameter renamed is the same operation", "openapi",
     openapi({"/t/{id}": {"get": op(params=[{"name": "id", "in": "path", "required": True, "schema": S}])}}),
     openapi({"/t/{thing_id}": {"get": op(params=[{"name": "thing_id", "in": "path", "required": True, "schema": S}])}}),
     {(K.REQUIRED_FIELD_REMOVED, "GET /t/{thing_id} path:id"), (K.REQUIRED_FIELD_ADDED, "GET /t/{thing_id} path:thing_id")},
     False, False, None),
    ("openapi required query parameter added", "openapi", openapi({"/a": {"get": op()}}),
     openapi({"/a": {"get": op(params=[{"name": "q", "in": "query", "required": True, "schema": S}])}}),
     {(K.REQUIRED_FIELD_ADDED, "GET /a query:q")}, False, True, None),
    ("openapi response field removed breaks old clients", "openapi",
     openapi({"/a": {"get": op(responses=json_response(THING))}}),
     openapi({"/a": {"get": op(responses=json_response(obj({"id": S}, ("id",))))}}),
     {(K.REQUIRED_FIELD_REMOVED, "GET /a response 200 application/json $.name")}, False, True, None),
    ("openapi request body field made required", "openapi",
     openapi({"/a": {"post": op(body={"content": {"application/json": {"schema": obj({"x": S})}}})}}),
     openapi({"/a": {"post": op(body={"content": {"application/json": {"schema": obj({"x": S}, ("x",))}}})}}),
     {(K.FIELD_MADE_REQUIRED, "GET /a request application/json $.x".replace("GET", "POST"))}, False, True, None),
    ("openapi success status added", "openapi", openapi({"/a": {"get": op()}}),
     openapi({"/a": {"get": op(responses={"200": {"description": "ok"}, "202": {"description": "later"}})}}),
     {(K.RESPONSE_ADDED, "GET /a response 202")}, False, True, None),
    ("openapi error status added is compatible", "openapi", openapi({"/a": {"get": op()}}),
     openapi({"/a": {"get": op(responses={"200": {"description": "ok"}, "404": {"description": "no"}})}}),
     {(K.RESPONSE_ADDED, "GET /a response 404")}, True, True, None),
    ("openapi success status removed", "openapi",
     openapi({"/a": {"get": op(responses={"200": {"description": "ok"}, "204": {"description": "none"}})}}),
     openapi({"/a": {"get": op()}}), {(K.RESPONSE_REMOVED, "GET /a response 204")}, True, False, None),
    # AsyncAPI: consumers read the messages (data flags).
    ("asyncapi channel removed", "asyncapi", asyncapi({"a": channel("x.a", A=THING), "b": channel("x.b", B=THING)}),
     asyncapi({"a": channel("x.a", A=THING)}), {(K.CHANNEL_REMOVED, "x.b")}, False, True, None),
    ("asyncapi channel added", "asyncapi", asyncapi({"a": channel("x.a", A=THING)}),
     asyncapi({"a": channel("x.a", A=THING), "b": channel("x.b", B=THING)}), {(K.CHANNEL_ADDED, "x.b")}, True, True, None),
    ("asyncapi message added to a channel", "asyncapi", asyncapi({"a": channel("x.a", A=THING)}),
     asyncapi({"a": channel("x.a", A=THING, B=THING)}), {(K.MESSAGE_ADDED, "x.a B")}, True, False, None),
    ("asyncapi message removed from a channel", "asyncapi", asyncapi({"a": channel("x.a", A=THING, B=THING)}),
     asyncapi({"a": channel("x.a", A=THING)}), {(K.MESSAGE_REMOVED, "x.a B")}, False, True, None),
    ("asyncapi payload gains a required field", "asyncapi", asyncapi({"a": channel("x.a", A=THING)}),
     asyncapi({"a": channel("x.a", A=obj({"id": S, "name": S, "n": I}, ("id", "name", "n")))}),
     {(K.REQUIRED_FIELD_ADDED, "x.a A payload $.n")}, False, True, None),
    # Protobuf: fields are identified by number.
    ("protobuf int32 -> int64 widens", "protobuf", PROTO, PROTO.replace("int32 quantity", "int64 quantity"),
     {(K.TYPE_WIDENED, "Order.quantity")}, True, False, None),
    ("protobuf field renumbered", "protobuf", PROTO, PROTO.replace("quantity = 2", "quantity = 4"),
     {(K.FIELD_RENUMBERED, "Order.quantity")}, False, False, None),
    ("protobuf field renamed (same number)", "protobuf", PROTO, PROTO.replace("string id = 1", "string order_id = 1"),
     {(K.FIELD_RENAMED, "Order.id")}, False, False, None),
    ("protobuf field added", "protobuf", PROTO, PROTO.replace("Status status = 3;", "Status status = 3; string note = 4;"),
     {(K.FIELD_ADDED, "Order.note")}, True, True, None),
    ("protobuf rpc removed", "protobuf", PROTO, PROTO.replace("rpc Get (Order) returns (Order);", ""),
     {(K.OPERATION_REMOVED, "Orders.Get")}, False, True, None),
    ("protobuf message added", "protobuf", PROTO, PROTO + "message Refund { string id = 1; }",
     {(K.TYPE_ADDED, "Refund")}, True, True, None),
    ("protobuf enum value added", "protobuf", PROTO, PROTO.replace("OPEN = 1;", "OPEN = 1; CLOSED = 2;"),
     {(K.ENUM_VALUE_ADDED, "Status")}, True, False, None),
    # GraphQL: old clients vs the new server (BACKWARD), new clients vs the old server (FORWARD).
    ("graphql output field removed", "graphql", SDL, SDL.replace("role: Role ", ""),
     {(K.FIELD_REMOVED, "User.role")}, False, True, None),
    ("graphql output field became nullable", "graphql", SDL, SDL.replace("name: String!", "name: String"),
     {(K.TYPE_WIDENED, "User.name")}, False, True, None),
    ("graphql type removed", "graphql", SDL, SDL.replace("type Team { id: ID! }\n", ""),
     {(K.TYPE_REMOVED, "Team")}, False, True, None),
    ("graphql required argument added", "graphql", SDL, SDL.replace("user(id: ID!)", "user(id: ID!, org: ID!)"),
     {(K.REQUIRED_FIELD_ADDED, "Query.user(org)")}, False, False, None),
    ("graphql output enum value added", "graphql", SDL, SDL.replace("ADMIN USER", "ADMIN USER GUEST"),
     {(K.ENUM_VALUE_ADDED, "Role")}, False, True, None),
    ("graphql union member added", "graphql", SDL, SDL.replace("union Result = User", "union Result = User | Team"),
     {(K.TYPE_WIDENED, "Result")}, False, True, None),
    ("graphql root field added", "graphql", SDL, SDL.replace("type Query {", "type Query { me: User"),
     {(K.OPERATION_ADDED, "Query.me")}, True, False, None),
]


@pytest.mark.parametrize(("name", "kind", "old", "new", "expected", "backward", "forward", "hints"), CASES,
                         ids=[c[0] for c in CASES])
def test_diff_finds_exactly_the_known_changes(name, kind, old, new, expected, backward, forward, hints):
    changes = diff_documents(kind, old, new, rename_hints=hints)
    assert {(c.kind, c.path) for c in changes} == expected, [c.as_dict() for c in changes]


@pytest.mark.parametrize(("name", "kind", "old", "new", "expected", "backward", "forward", "hints"), CASES,
                         ids=[c[0] for c in CASES])
def test_every_mode_verdict(name, kind, old, new, expected, backward, forward, hints):
    diffs = [VersionDiff("v1", tuple(diff_documents(kind, old, new, rename_hints=hints)))]
    verdicts = all_modes(diffs)
    # With one registered version a transitive mode sees exactly what its plain mode sees.
    assert verdicts == {
        "NONE": True,
        "BACKWARD": backward, "BACKWARD_TRANSITIVE": backward,
        "FORWARD": forward, "FORWARD_TRANSITIVE": forward,
        "FULL": backward and forward, "FULL_TRANSITIVE": backward and forward,
    }


def test_the_table_covers_every_change_kind():
    covered = {kind for case in CASES for kind, _ in case[4]}
    # contract_removed only exists in the gate (a whole published type disappeared): test_gate.py covers it.
    assert set(ChangeKind) - covered == {ChangeKind.CONTRACT_REMOVED}
    assert len(CASES) >= 30


# Transitive modes: v3 is compatible with v2 but not with v1.
V1 = obj({"b": S})
V2 = obj({})
V3 = obj({"b": I})


def test_transitive_modes_check_every_registered_version():
    diffs = [VersionDiff(label, tuple(diff_documents("jsonschema", doc, V3))) for label, doc in (("v1", V1), ("v2", V2))]
    assert all_modes(diffs) == {
        "NONE": True, "BACKWARD": True, "FORWARD": True, "FULL": True,
        "BACKWARD_TRANSITIVE": False, "FORWARD_TRANSITIVE": False, "FULL_TRANSITIVE": False,
    }
    verdict = assess(diffs, Mode.BACKWARD_TRANSITIVE)
    assert verdict.checked_versions == ("v1", "v2")
    assert [(v.version, v.change.kind, v.change.path) for v in verdict.violations] == [("v1", K.TYPE_CHANGED, "$.b")]
    assert assess(diffs, Mode.BACKWARD).checked_versions == ("v2",)


def test_a_new_contract_without_versions_passes_every_mode():
    assert all(all_modes([]).values())
