"""Properties of the JSON Schema diff and the compatibility modes, on generated schemas."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.schema_council.diff import Mode, VersionDiff, all_modes, assess, diff_documents
from services.schema_council.diff.jsonschema import diff_schemas

NAMES = ["id", "name", "user_id", "userId", "count", "total", "email", "tags", "score", "created_at", "createdAt",
         "status", "note", "kind"]
FRESH = ["zeta_extra", "added_one", "another_field", "bonus"]
FORMATS = ["date-time", "date", "email", "uri"]

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scalars(draw) -> dict:
    t = draw(st.sampled_from(["string", "integer", "number", "boolean"]))
    schema: dict = {"type": t}
    if t == "string":
        if draw(st.booleans()):
            schema["maxLength"] = draw(st.integers(1, 300))
        if draw(st.booleans()):
            schema["format"] = draw(st.sampled_from(FORMATS))
        if draw(st.booleans()):
            schema["enum"] = sorted(set(draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4))))
    elif t in ("integer", "number"):
        if draw(st.booleans()):
            schema["minimum"] = draw(st.integers(-10, 10))
        if draw(st.booleans()):
            schema["maximum"] = draw(st.integers(11, 100))
    if draw(st.integers(0, 3)) == 0:
        return {"anyOf": [schema, {"type": "null"}], "default": None}
    return schema


def objects(depth: int = 2):
    children = scalars() if depth <= 0 else st.one_of(scalars(), scalars(), objects(depth - 1), arrays())

    @st.composite
    def build(draw) -> dict:
        names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=5))
        props = {n: draw(children) for n in names}
        required = sorted(n for n in names if draw(st.booleans()))
        return {"type": "object", "properties": props, "required": required}

    return build()


@st.composite
def arrays(draw) -> dict:
    return {"type": "array", "items": draw(scalars())}


@st.composite
def backward_edits(draw, schema: dict) -> dict:
    """A copy of `schema` changed only in ways a reader of the new schema tolerates for old
    data: optional fields added, required -> optional, integer -> number, nullable added,
    enum values added, constraints relaxed."""
    new = copy.deepcopy(schema)

    def relax(node: dict) -> None:
        target = node["anyOf"][0] if "anyOf" in node else node
        choice = draw(st.integers(0, 5))
        if choice == 0 and target.get("type") == "integer":
            target["type"] = "number"
        elif choice == 1 and "anyOf" not in node:
            snapshot = dict(node)
            node.clear()
            node.update({"anyOf": [snapshot, {"type": "null"}]})
        elif choice == 2 and "enum" in target:
            target["enum"] = sorted(set(target["enum"]) | {"zz"})
        elif choice == 3 and "maxLength" in target:
            target["maxLength"] += draw(st.integers(1, 50))
        elif choice == 4:
            for key in ("format", "minimum", "maximum"):
                target.pop(key, None)

    def walk(node: dict) -> None:
        if node.get("type") == "object":
            for name in list(node["properties"]):
                child = node["properties"][name]
                if not draw(st.booleans()):
                    continue
                if child.get("type") in ("object", "array"):
                    walk(child)
                else:
                    relax(child)
            if node["required"] and draw(st.booleans()):
                node["required"] = node["required"][1:]
            for extra in draw(st.lists(st.sampled_from(FRESH), unique=True, max_size=2)):
                if extra not in node["properties"]:
                    node["properties"][extra] = draw(scalars())
        elif node.get("type") == "array":
            relax(node["items"])

    walk(new)
    return new


@SETTINGS
@given(objects())
def test_diff_of_a_schema_with_itself_is_empty(schema):
    assert diff_schemas(schema, schema) == []
    assert diff_schemas(schema, copy.deepcopy(schema)) == []


@SETTINGS
@given(st.data())
def test_backward_edits_are_never_breaking_under_backward(data):
    old = data.draw(objects())
    new = data.draw(backward_edits(old))
    changes = diff_schemas(old, new)
    assert all(c.backward for c in changes), [c.as_dict() for c in changes if not c.backward]
    assert assess([VersionDiff("v1", tuple(changes))], Mode.BACKWARD).compatible


@SETTINGS
@given(objects(), st.lists(st.sampled_from(FRESH), unique=True, min_size=1, max_size=3), st.data())
def test_adding_optional_fields_is_additive_in_every_mode(old, extra, data):
    new = copy.deepcopy(old)
    for name in extra:
        new["properties"][name] = data.draw(scalars())
    changes = diff_schemas(old, new)
    assert {c.kind for c in changes} == {"field_added"}
    assert all(all_modes([VersionDiff("v1", tuple(changes))]).values())


@SETTINGS
@given(objects(), objects(), objects())
def test_full_is_backward_and_forward(v1, v2, candidate):
    diffs = [VersionDiff("v1", tuple(diff_schemas(v1, candidate))), VersionDiff("v2", tuple(diff_schemas(v2, candidate)))]
    modes = all_modes(diffs)
    assert modes["FULL"] == (modes["BACKWARD"] and modes["FORWARD"])
    assert modes["FULL_TRANSITIVE"] == (modes["BACKWARD_TRANSITIVE"] and modes["FORWARD_TRANSITIVE"])
    # A transitive mode is at least as strict as the plain one.
    for base in ("BACKWARD", "FORWARD", "FULL"):
        assert not modes[f"{base}_TRANSITIVE"] or modes[base]
    assert modes["NONE"]


@SETTINGS
@given(objects(), objects())
def test_forward_of_a_to_b_is_backward_of_b_to_a(a, b):
    """FORWARD asks whether the old schema reads data of the new one: the BACKWARD question
    with the roles swapped. The diff must agree with itself when run the other way round."""
    forward = all(c.forward for c in diff_schemas(a, b))
    backward_reversed = all(c.backward for c in diff_schemas(b, a))
    assert forward == backward_reversed


@SETTINGS
@given(objects(), objects())
def test_changes_are_sorted_unique_and_named(a, b):
    changes = diff_documents("jsonschema", a, b)
    assert changes == sorted(set(changes), key=lambda c: (c.path, c.kind, c.detail))
    assert all(c.path.startswith("$") and c.detail for c in changes)
    assume(changes)
    assert all(c.id == f"{c.kind}:{c.path}" for c in changes)
