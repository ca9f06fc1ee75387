"""Format details beyond the case table: references and recursion, pydantic's output,
OpenAPI components, AsyncAPI 2.x and the chassis's own AsyncAPI, the protobuf and GraphQL
subsets and their error messages."""

from __future__ import annotations

import copy

import pytest

from services.schema_council.diff import DiffError, check_document, diff_documents
from services.schema_council.diff.graphql import compare_refs
from services.schema_council.diff.graphql import parse as parse_sdl
from services.schema_council.diff.jsonschema import diff_schemas, name_similarity
from services.schema_council.diff.protobuf import parse as parse_proto
from summit_common.asyncapi import asyncapi_document
from summit_contracts import REGISTRY


def kinds(changes):
    return {(c.kind.value, c.path) for c in changes}


# --- JSON Schema ------------------------------------------------------------------------

TREE = {
    "$defs": {"Node": {"type": "object", "properties": {"value": {"type": "integer"},
                                                        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                       "required": ["value"]}},
    "$ref": "#/$defs/Node",
}


def test_recursive_schemas_terminate_and_changes_are_found_at_depth():
    assert diff_schemas(TREE, copy.deepcopy(TREE)) == []
    changed = copy.deepcopy(TREE)
    changed["$defs"]["Node"]["properties"]["value"]["type"] = "number"
    assert kinds(diff_schemas(TREE, changed)) == {("type_widened", "$.value")}


def test_every_registered_event_schema_is_readable_and_equal_to_itself():
    for spec in REGISTRY:
        schema = spec.json_schema()
        check_document("jsonschema", schema)
        assert diff_schemas(schema, copy.deepcopy(schema)) == [], spec.type


def test_a_pydantic_optional_literal_keeps_its_enum():
    old = {"type": "object", "properties": {"role": {"anyOf": [{"enum": ["a", "b"], "type": "string"}, {"type": "null"}]}}}
    new = copy.deepcopy(old)
    new["properties"]["role"]["anyOf"][0]["enum"].append("c")
    assert kinds(diff_schemas(old, new)) == {("enum_value_added", "$.role")}


def test_ref_siblings_and_allof_are_merged():
    old = {"$defs": {"A": {"type": "object", "properties": {"x": {"type": "string"}}}},
           "type": "object", "properties": {"a": {"allOf": [{"$ref": "#/$defs/A"}], "description": "d"}}}
    new = copy.deepcopy(old)
    new["$defs"]["A"]["properties"]["y"] = {"type": "string"}
    new["$defs"]["A"]["required"] = ["y"]
    assert kinds(diff_schemas(old, new)) == {("required_field_added", "$.a.y")}


def test_names_with_odd_characters_get_bracket_paths():
    old = {"type": "object", "properties": {"a.b": {"type": "string"}}}
    new = {"type": "object", "properties": {"a.b": {"type": "integer"}}}
    assert kinds(diff_schemas(old, new)) == {("type_changed", '$["a.b"]')}


def test_name_similarity_is_symmetric_and_case_insensitive():
    assert name_similarity("user_id", "userId") == 1.0
    assert name_similarity("participant", "participant_ref") == name_similarity("participant_ref", "participant") > 0.75
    assert name_similarity("likes", "zebra") < 0.5


def test_invalid_json_schema_is_rejected_with_its_location():
    with pytest.raises(DiffError, match="properties/a"):
        check_document("jsonschema", {"type": "object", "properties": {"a": {"type": 5}}})
    with pytest.raises(DiffError, match="anchors are not supported"):
        diff_schemas({"$ref": "#foo"}, {})


# --- OpenAPI -----------------------------------------------------------------------------

API = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {"/things/{id}": {
        "parameters": [{"$ref": "#/components/parameters/Id"}],
        "get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Thing"}}}}}},
    }},
    "components": {
        "parameters": {"Id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}},
        "schemas": {"Thing": {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"}, "size": {"type": "integer", "nullable": True}}}},
    },
}


def test_openapi_components_are_followed_and_the_3_0_dialect_understood():
    assert diff_documents("openapi", API, copy.deepcopy(API)) == []
    new = copy.deepcopy(API)
    new["components"]["schemas"]["Thing"]["properties"]["size"]["nullable"] = False
    changes = diff_documents("openapi", API, new)
    # The server's response no longer contains null: old clients are fine (BACKWARD), new clients
    # relying on it against the old server are not (FORWARD).
    assert kinds(changes) == {("type_narrowed", "GET /things/{id} response 200 application/json $.size")}
    assert changes[0].backward and not changes[0].forward


def test_openapi_errors():
    with pytest.raises(DiffError, match="Swagger 2.0"):
        check_document("openapi", {"swagger": "2.0", "paths": {}})
    with pytest.raises(DiffError, match="must start with '/'"):
        check_document("openapi", {"openapi": "3.1.0", "paths": {"things": {}}})
    with pytest.raises(DiffError, match="parameter needs a name"):
        check_document("openapi", {"openapi": "3.1.0", "paths": {"/a": {"get": {"parameters": [{"in": "query"}]}}}})


def test_the_platforms_own_openapi_document_diffs_cleanly():
    from fastapi import FastAPI

    from services.schema_council.service import service

    app = FastAPI()
    app.include_router(service.router)
    doc = app.openapi()
    check_document("openapi", doc)
    assert diff_documents("openapi", doc, copy.deepcopy(doc)) == []
    smaller = copy.deepcopy(doc)
    del smaller["paths"]["/v1/diff"]
    assert ("operation_removed", "POST /v1/diff") in kinds(diff_documents("openapi", doc, smaller))


# --- AsyncAPI ----------------------------------------------------------------------------


def test_the_chassis_asyncapi_document_resolves_payload_refs():
    from services.schema_council.service import service

    doc = asyncapi_document(service)
    assert diff_documents("asyncapi", doc, copy.deepcopy(doc)) == []
    new = copy.deepcopy(doc)
    payload = new["components"]["messages"]["governance_proposal_submitted_v1"]["payload"]
    payload["required"].append("breaking")
    changes = diff_documents("asyncapi", doc, new)
    assert kinds(changes) == {("field_made_required",
                               "governance.proposal.submitted.v1 governance.proposal.submitted.v1 payload $.breaking")}


def test_asyncapi_2_publish_and_subscribe_messages():
    v2 = {"asyncapi": "2.6.0", "channels": {"orders": {"subscribe": {"message": {"oneOf": [
        {"$ref": "#/components/messages/Placed"}, {"$ref": "#/components/messages/Cancelled"}]}}}},
        "components": {"messages": {
            "Placed": {"payload": {"type": "object", "properties": {"id": {"type": "string"}}}},
            "Cancelled": {"payload": {"type": "object"}}}}}
    new = copy.deepcopy(v2)
    new["channels"]["orders"]["subscribe"]["message"]["oneOf"].pop()
    new["components"]["messages"]["Placed"]["payload"]["properties"]["id"]["type"] = "integer"
    assert kinds(diff_documents("asyncapi", v2, new)) == {
        ("message_removed", "orders subscribe:Cancelled"),
        ("type_changed", "orders subscribe:Placed payload $.id"),
    }
    with pytest.raises(DiffError, match="schemaFormat"):
        bad = copy.deepcopy(v2)
        bad["components"]["messages"]["Placed"]["schemaFormat"] = "application/vnd.apache.avro;version=1.9.0"
        check_document("asyncapi", bad)


# --- protobuf ----------------------------------------------------------------------------

PROTO = """
syntax = "proto3";
package acme.v1;
import "google/protobuf/timestamp.proto";
option java_package = "com.acme";
/* block
   comment */
message Order {
  string id = 1 [json_name = "orderId"];
  map<string, int64> counts = 2;
  oneof payment { string card = 3; string iban = 4; }
  google.protobuf.Timestamp at = 5;
  Line line = 6;
  reserved 10 to 12, 20;
  reserved "legacy";
  message Line { string sku = 1; }
  enum State { UNKNOWN = 0; OPEN = 1 [deprecated = true]; }
  State state = 7;
}
service Orders {
  rpc Watch (Order) returns (stream Order) { option (acme.idempotent) = true; }
}
"""


def test_the_protobuf_subset_parses():
    proto = parse_proto(PROTO)
    order = proto.messages["acme.v1.Order"]
    assert order.fields[1].json_name == "orderId"
    assert order.fields[2].label == "map" and order.fields[2].key_type == "string"
    assert order.fields[3].oneof == "payment"
    assert order.fields[5].type == "google.protobuf.Timestamp"  # imported: kept by name
    assert order.fields[6].type == "acme.v1.Order.Line"  # nested: resolved
    assert order.fields[7].type == "acme.v1.Order.State"
    assert order.reserved(11) and order.reserved(20) and not order.reserved(13)
    assert proto.rpcs["acme.v1.Orders.Watch"].server_stream
    assert diff_documents("protobuf", PROTO, PROTO) == []


def test_protobuf_reserved_numbers_and_oneof_moves():
    reused = PROTO.replace("State state = 7;", "State state = 7; string old = 11;")
    assert kinds(diff_documents("protobuf", PROTO, reused)) == {("type_changed", "Order.old")}
    moved = PROTO.replace("oneof payment { string card = 3; string iban = 4; }", "string card = 3; string iban = 4;")
    assert kinds(diff_documents("protobuf", PROTO, moved)) == {("constraint_changed", "Order.card"),
                                                               ("constraint_changed", "Order.iban")}
    json_name = PROTO.replace('[json_name = "orderId"]', "")
    assert kinds(diff_documents("protobuf", PROTO, json_name)) == {("constraint_changed", "Order.id")}


@pytest.mark.parametrize(("text", "message"), [
    ('syntax = "proto3";\nmessage A {\n  string a = ;\n}', "line 3: expected a number"),
    ('syntax = "proto4";', "not supported"),
    ('edition = "2023";', "editions are not supported"),
    ('message A { extensions 100 to 200; }', "extensions is not supported"),
    ('message A { string a = 1; string b = 1; }', "used twice"),
    ('message A { string a = 1;', "not closed|end of file"),
    ('message A { string a = 1; } message A { }', "defined twice"),
    ("message A { string a = 1; } $", "unexpected character"),
])
def test_protobuf_errors_say_where(text, message):
    with pytest.raises(DiffError, match=message):
        check_document("protobuf", text)


# --- GraphQL -----------------------------------------------------------------------------

SDL = '''
"""The schema"""
schema { query: Root }
directive @auth(role: String = "x") repeatable on FIELD_DEFINITION | OBJECT
type Root { node(id: ID!, "desc" depth: Int = 1 @auth): Node  search(q: SearchInput!): [Node!]! }
interface Node { id: ID! }
type User implements Node & Named @auth(role: "a") { id: ID! name: String! tags(first: Int = 10): [String] }
interface Named { name: String! }
input SearchInput { text: String!, limit: Int = 20, filters: [Filter!] }
input Filter { field: String! }
extend type User { email: String }
enum Role { A B }
'''


def test_the_graphql_subset_parses():
    schema = parse_sdl(SDL)
    assert schema.roots == {"query": "Root"}
    user = schema.types["User"]
    assert user.interfaces == {"Node", "Named"}
    assert set(user.fields) == {"id", "name", "tags", "email"}  # extension merged
    assert schema.types["Root"].fields["node"].args["depth"].has_default
    assert not schema.types["SearchInput"].inputs["limit"].required
    assert diff_documents("graphql", SDL, SDL) == []


def test_graphql_root_fields_are_operations_and_inputs_are_checked_server_side():
    changes = diff_documents("graphql", SDL, SDL.replace("search(q: SearchInput!): [Node!]! ", "")
                             .replace("limit: Int = 20", "limit: Int! = 20").replace("text: String!", "text: String"))
    got = {(c.kind.value, c.path, c.backward, c.forward) for c in changes}
    assert got == {
        ("operation_removed", "Root.search", False, True),
        ("type_narrowed", "SearchInput.limit", False, True),
        ("type_widened", "SearchInput.text", True, False),
    }


def test_compare_refs():
    assert compare_refs("String", "String") == "same"
    assert compare_refs("String!", "String") == "widened"
    assert compare_refs("[String]", "[String!]") == "narrowed"
    assert compare_refs("[String!]", "[String]!") == "changed"  # widened inside, narrowed outside
    assert compare_refs("String", "[String]") == "changed"
    assert compare_refs("String", "Int") == "changed"


@pytest.mark.parametrize(("text", "message"), [
    ("query { me { id } }", "executable definitions"),
    ("type A { b: Missing }", "unknown type Missing"),
    ("type A { id: ID }\ntype A { id: ID }", "defined twice"),
    ("extend type B { id: ID }", "B is not defined"),
    ("type A {\n  id ID\n}", "line 2: expected ':'"),
])
def test_graphql_errors_say_what(text, message):
    with pytest.raises(DiffError, match=message):
        check_document("graphql", text)
