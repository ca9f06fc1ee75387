"""JSON Schema diff (drafts 4 to 2020-12, plus the OpenAPI 3.0 dialect: `nullable`, boolean
`exclusiveMinimum`/`exclusiveMaximum`).

What it understands: `type` (string or list), `enum`/`const`, `properties`, `required`,
`additionalProperties`, `items`/`prefixItems` (and draft-4 tuple `items`), `anyOf`/`oneOf`
(nullable unions such as pydantic's ``anyOf: [T, {type: null}]`` fold into one node; other
unions are compared member by member), `allOf` (merged), local `$ref` (`#/...`, resolved
against the nearest `$id` resource, then the document; recursion is safe), the numeric
bounds, `minLength`/`maxLength`/`minItems`/`maxItems`/`minProperties`/`maxProperties`,
`multipleOf`, `uniqueItems`, `pattern`, `format`, `contentEncoding`, `contentMediaType`.

Annotations (`title`, `description`, `default`, `examples`, `deprecated`, `x-*`, ...) are
ignored. Any other keyword (`not`, `if`/`then`/`else`, `patternProperties`, `dependent*`,
...) is compared as an opaque value: a change there is ``constraint_changed`` (breaking in
every mode), so an unsupported construct can never slip through as compatible.

Readers are assumed to ignore unknown properties (Summit's EventData uses extra="ignore"),
except where a schema closes an object with ``additionalProperties: false``.

Rename detection: a removed and an added property at the same place are one rename when
the caller or the schema says so (``rename_hints={"$.old_path": "new_name"}``, or
``"x-renamed-from": "old_name"`` on the new property), or when both have the same schema
and requiredness and similar names (see `name_similarity`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from urllib.parse import unquote

from services.schema_council.diff.model import Change, ChangeKind, DiffError, change

K = ChangeKind
ROOT = "$"
MAX_DEPTH = 64
RENAME_THRESHOLD = 0.75
RENAME_HINT = "x-renamed-from"

ANNOTATIONS = frozenset({
    "title", "description", "default", "examples", "example", "deprecated", "readOnly", "writeOnly", "$comment",
    "$schema", "$id", "$anchor", "$dynamicAnchor", "$defs", "definitions", "$vocabulary", "discriminator", "xml",
    "externalDocs", "contentSchema",
})
LOWER_SIZES = ("minLength", "minItems", "minProperties", "minContains")
UPPER_SIZES = ("maxLength", "maxItems", "maxProperties", "maxContains")
SIMPLE = ("pattern", "format", "contentEncoding", "contentMediaType")
STRUCTURAL = frozenset({
    "type", "enum", "const", "properties", "required", "additionalProperties", "items", "prefixItems", "anyOf",
    "oneOf", "allOf", "$ref", "nullable", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "uniqueItems", *LOWER_SIZES, *UPPER_SIZES, *SIMPLE,
})
JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def child_path(path: str, name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
        return f"{path}.{name}"
    return f"{path}[{json.dumps(name)}]"


def name_similarity(a: str, b: str) -> float:
    """Symmetric similarity of two property names in [0, 1]: 1 when they differ only in case,
    '_' or '-' (user_id / userId / user-id); otherwise the difflib ratio of the normalised names."""

    def norm(s: str) -> str:
        return re.sub(r"[_\-\s]", "", s).lower()

    na, nb = norm(a), norm(b)
    if na == nb:
        return 1.0
    return max(difflib.SequenceMatcher(None, na, nb).ratio(), difflib.SequenceMatcher(None, nb, na).ratio())


# --- resolution --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The schema resources a local `$ref` may point into, outermost first."""

    roots: tuple[Any, ...]

    def enter(self, schema: dict) -> Scope:
        if "$id" in schema and not any(schema is r for r in self.roots):
            return Scope(self.roots + (schema,))
        return self

    def join(self, other: Scope) -> Scope:
        roots = list(self.roots)
        for r in other.roots:
            if not any(r is x for x in roots):
                roots.append(r)
        return Scope(tuple(roots))


def _pointer(root: Any, pointer: str) -> Any:
    node = root
    if pointer in ("", "/"):
        return node
    if not pointer.startswith("/"):
        raise LookupError(pointer)
    for raw in pointer[1:].split("/"):
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError(pointer)
    return node


def resolve(ref: str, scope: Scope) -> Any:
    if not ref.startswith("#"):
        raise DiffError(f"$ref {ref!r} is not a local reference")
    pointer = ref[1:]
    if pointer and not pointer.startswith("/"):
        raise DiffError(f"$ref {ref!r}: anchors are not supported, use a JSON pointer (#/$defs/Name)")
    for root in reversed(scope.roots):
        try:
            return _pointer(root, pointer)
        except LookupError:
            continue
    raise DiffError(f"$ref {ref!r} does not resolve")


def _strip_annotations(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k not in ANNOTATIONS and not k.startswith("x-")}


def deref(schema: Any, scope: Scope) -> tuple[Any, Scope, int | None]:
    """Follow a `$ref` chain; sibling keywords of a `$ref` are merged over the target.
    Returns the schema, its scope and the identity of the last target (for cycle checks)."""
    target_id = None
    hops = 0
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str):
            raise DiffError("$ref must be a string")
        if not ref.startswith("#"):
            return schema, scope, None
        target = resolve(ref, scope)
        target_id = id(target)
        siblings = _strip_annotations({k: v for k, v in schema.items() if k != "$ref"})
        if siblings and isinstance(target, dict):
            schema = {**target, **siblings}
        else:
            schema = target
        if isinstance(schema, dict):
            scope = scope.enter(schema)
        hops += 1
        if hops > 32:
            raise DiffError(f"$ref {ref!r}: the reference chain is circular")
    return schema, scope, target_id


# --- normalised nodes --------------------------------------------------------------------

Bound = tuple[float, bool]  # (value, exclusive)


@dataclass
class Node:
    types: frozenset[str] | None = None  # None: any type
    enum: frozenset[str] | None = None  # canonical JSON of the allowed non-null values
    lower: Bound | None = None
    upper: Bound | None = None
    sizes: dict[str, Any] = field(default_factory=dict)
    simple: dict[str, Any] = field(default_factory=dict)
    multiple_of: Any = None
    unique_items: bool = False
    opaque: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    additional: Any = True  # True (open), False (closed), or a schema for the values
    items: Any = None
    prefix_items: tuple[Any, ...] = ()
    variants: tuple[Node, ...] | None = None
    scope: Scope = field(default_factory=lambda: Scope(()))
    target_id: int | None = None
    external_ref: str | None = None

    @property
    def may_be_object(self) -> bool:
        return self.types is None or "object" in self.types

    @property
    def may_be_array(self) -> bool:
        return self.types is None or "array" in self.types

    def prop(self, name: str) -> Any:
        return self.properties.get(name, True)


def _number(value: Any, keyword: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DiffError(f"{keyword} must be a number, got {value!r}")
    return value


def _tighter_lower(a: Bound | None, b: Bound | None) -> Bound | None:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] != b[0]:
        return a if a[0] > b[0] else b
    return a if a[1] else b


def _tighter_upper(a: Bound | None, b: Bound | None) -> Bound | None:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] != b[0]:
        return a if a[0] < b[0] else b
    return a if a[1] else b


def _accepts(types: frozenset[str] | None, t: str) -> bool:
    return types is None or t in types or (t == "integer" and "number" in types)


def covers(wide: frozenset[str] | None, narrow: frozenset[str] | None) -> bool:
    """Does every value of type set `narrow` belong to `wide`? (integer is a number)"""
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(_accepts(wide, t) for t in narrow)


def _merge_all_of(schema: dict, scope: Scope) -> tuple[dict, Scope]:
    members = schema.get("allOf")
    if not isinstance(members, list):
        raise DiffError("allOf must be a list of schemas")
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for member in members:
        member, member_scope, _ = deref(member, scope)
        if member is True:
            continue
        if not isinstance(member, dict):
            raise DiffError("allOf members must be schemas")
        scope = scope.join(member_scope)
        if "allOf" in member:
            member, scope = _merge_all_of(member, scope)
        for key, value in member.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = sorted(set(merged.get("required", [])) | set(value))
            elif key not in merged:
                merged[key] = value
    return merged, scope


def normalize(schema: Any, scope: Scope) -> Node:
    schema, scope, target_id = deref(schema, scope)
    if isinstance(schema, dict) and "$ref" in schema:
        return Node(external_ref=schema["$ref"], scope=scope)
    if schema is True:
        return Node(scope=scope, target_id=target_id)
    if schema is False:
        return Node(types=frozenset(), scope=scope, target_id=target_id)
    if not isinstance(schema, dict):
        raise DiffError(f"a schema must be an object or a boolean, got {json_type(schema)}")
    scope = scope.enter(schema)
    if "allOf" in schema:
        schema, scope = _merge_all_of(schema, scope)
    if "anyOf" in schema or "oneOf" in schema:
        node = _union(schema, scope)
    else:
        node = _plain(schema, scope)
    node.target_id = target_id
    return node


def _union(schema: dict, scope: Scope) -> Node:
    members = (schema.get("anyOf") or []) + (schema.get("oneOf") or [])
    if not isinstance(members, list) or not members:
        raise DiffError("anyOf/oneOf must be a non-empty list of schemas")
    base = {k: v for k, v in _strip_annotations(schema).items() if k not in ("anyOf", "oneOf")}
    nodes = []
    for member in members:
        if base:
            member, member_scope, _ = deref(member, scope)
            if isinstance(member, dict):
                member = {**base, **member}
            scope = scope.join(member_scope)
        nodes.append(normalize(member, scope))
    merged = _merge_union(nodes)
    if merged is not None:
        return merged
    types = None
    if all(n.types is not None for n in nodes):
        types = frozenset().union(*(n.types for n in nodes))  # type: ignore[arg-type]
    return Node(types=types, variants=tuple(nodes), scope=scope)


def _merge_union(nodes: list[Node]) -> Node | None:
    """Fold a union whose members have disjoint types (T | null, string | integer) into one node."""
    if any(n.variants is not None or n.external_ref or n.types is None or not n.types for n in nodes):
        return None
    seen: set[str] = set()
    for n in nodes:
        expanded = set(n.types or ())
        if "number" in expanded:
            expanded.add("integer")
        if "integer" in expanded:
            expanded.add("number")
        if seen & expanded:
            return None
        seen |= expanded
    out = Node(types=frozenset().union(*(n.types for n in nodes)))  # type: ignore[arg-type]
    if all(n.enum is not None or n.types == frozenset({"null"}) for n in nodes):
        out.enum = frozenset().union(*(n.enum or frozenset() for n in nodes))
    scopes = [n.scope for n in nodes]
    out.scope = scopes[0]
    for s in scopes[1:]:
        out.scope = out.scope.join(s)
    for n in nodes:
        for attr in ("sizes", "simple", "opaque"):
            target = getattr(out, attr)
            for key, value in getattr(n, attr).items():
                if key in target and target[key] != value:
                    return None
                target[key] = value
        for attr in ("lower", "upper", "multiple_of"):
            value = getattr(n, attr)
            if value is not None:
                if getattr(out, attr) is not None:
                    return None
                setattr(out, attr, value)
        out.unique_items = out.unique_items or n.unique_items
        if n.types and "object" in n.types:
            out.properties, out.required, out.additional = n.properties, n.required, n.additional
        if n.types and "array" in n.types:
            out.items, out.prefix_items = n.items, n.prefix_items
    return out


def _plain(schema: dict, scope: Scope) -> Node:
    node = Node(scope=scope)
    raw_type = schema.get("type")
    if isinstance(raw_type, str):
        types: set[str] | None = {raw_type}
    elif isinstance(raw_type, list):
        types = set(raw_type)
    elif raw_type is None:
        types = None
    else:
        raise DiffError(f"type must be a string or a list, got {raw_type!r}")
    if types is not None and not types <= set(JSON_TYPES):
        raise DiffError(f"unknown JSON type {sorted(types - set(JSON_TYPES))[0]!r}")
    if schema.get("nullable") is True and types is not None:
        types.add("null")

    values = None
    if "const" in schema:
        values = [schema["const"]]
    elif "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list):
            raise DiffError("enum must be a list")
    if values is not None:
        value_types = {json_type(v) for v in values}
        if schema.get("nullable") is True:
            value_types.add("null")
        frozen = frozenset(types) if types is not None else None
        types = {t for t in value_types if _accepts(frozen, t)}
        node.enum = frozenset(canonical(v) for v in values if v is not None)
    if types is None:
        if any(k in schema for k in ("properties", "required", "additionalProperties", "minProperties", "maxProperties")):
            types = {"object"}
        elif any(k in schema for k in ("items", "prefixItems")):
            types = {"array"}
    node.types = frozenset(types) if types is not None else None

    if "minimum" in schema:
        node.lower = (_number(schema["minimum"], "minimum"), schema.get("exclusiveMinimum") is True)
    if "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool):
        node.lower = _tighter_lower(node.lower, (_number(schema["exclusiveMinimum"], "exclusiveMinimum"), True))
    if "maximum" in schema:
        node.upper = (_number(schema["maximum"], "maximum"), schema.get("exclusiveMaximum") is True)
    if "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool):
        node.upper = _tighter_upper(node.upper, (_number(schema["exclusiveMaximum"], "exclusiveMaximum"), True))
    for key in (*LOWER_SIZES, *UPPER_SIZES):
        if key in schema:
            node.sizes[key] = _number(schema[key], key)
    for key in SIMPLE:
        if key in schema:
            node.simple[key] = schema[key]
    if "multipleOf" in schema:
        node.multiple_of = _number(schema["multipleOf"], "multipleOf")
        if node.multiple_of <= 0:
            raise DiffError("multipleOf must be greater than 0")
    node.unique_items = schema.get("uniqueItems") is True

    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise DiffError("properties must be an object")
    node.properties = dict(props)
    required = schema.get("required", [])
    if isinstance(required, bool):  # draft 3 style, on the property itself: ignore
        required = []
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise DiffError("required must be a list of property names")
    node.required = frozenset(required)
    additional = schema.get("additionalProperties", True)
    node.additional = True if additional == {} else additional
    items = schema.get("items")
    if isinstance(items, list):  # draft 4-2019 tuple validation
        node.prefix_items = tuple(items)
        node.items = schema.get("additionalItems")
    else:
        node.items = items
        prefix = schema.get("prefixItems", [])
        if not isinstance(prefix, list):
            raise DiffError("prefixItems must be a list")
        node.prefix_items = tuple(prefix)
    for key, value in schema.items():
        if key in STRUCTURAL or key in ANNOTATIONS or key.startswith("x-") or key == "additionalItems":
            continue
        node.opaque[key] = canonical(value)
    return node


# --- comparison --------------------------------------------------------------------------


def _fmt_types(types: frozenset[str] | None) -> str:
    if types is None:
        return "any"
    if not types:
        return "nothing"
    return "|".join(sorted(types))


def _fmt_bound(bound: Bound | None, lower: bool) -> str:
    if bound is None:
        return "none"
    op = (">" if bound[1] else ">=") if lower else ("<" if bound[1] else "<=")
    return f"{op} {bound[0]:g}" if isinstance(bound[0], float) else f"{op} {bound[0]}"


def _bound_cmp(old: Bound, new: Bound, lower: bool) -> int:
    """>0 when `new` is tighter than `old`, <0 when looser, 0 when equal."""
    if old == new:
        return 0
    if old[0] != new[0]:
        tighter = new[0] > old[0] if lower else new[0] < old[0]
        return 1 if tighter else -1
    return 1 if new[1] else -1


class Differ:
    def __init__(self, rename_hints: Mapping[str, str] | None = None) -> None:
        self.changes: list[Change] = []
        self.hints = dict(rename_hints or {})
        self._active: set[tuple[int | None, int | None]] = set()
        self._depth = 0

    def emit(self, kind: ChangeKind, path: str, detail: str, **kwargs: Any) -> None:
        self.changes.append(change(kind, path, detail, **kwargs))

    # entry points

    def compare(self, old: Any, old_scope: Scope, new: Any, new_scope: Scope, path: str) -> None:
        self.compare_nodes(normalize(old, old_scope), normalize(new, new_scope), path)

    def compare_nodes(self, o: Node, n: Node, path: str) -> None:
        key = (o.target_id, n.target_id)
        tracked = o.target_id is not None or n.target_id is not None
        if tracked and key in self._active:
            return  # recursion: this pair is being compared further up
        if self._depth >= MAX_DEPTH:
            raise DiffError(f"{path}: schemas nest deeper than {MAX_DEPTH} levels")
        if tracked:
            self._active.add(key)
        self._depth += 1
        try:
            self._compare(o, n, path)
        finally:
            self._depth -= 1
            if tracked:
                self._active.discard(key)

    def same(self, o: Node, n: Node) -> bool:
        probe = Differ()
        probe._active = set(self._active)
        probe._depth = self._depth
        probe.compare_nodes(o, n, ROOT)
        return not probe.changes

    # the parts

    def _compare(self, o: Node, n: Node, path: str) -> None:
        if o.external_ref or n.external_ref:
            if o.external_ref != n.external_ref:
                self.emit(K.TYPE_CHANGED, path, f"external $ref {o.external_ref or '(inline)'} -> {n.external_ref or '(inline)'}",
                          old=o.external_ref, new=n.external_ref)
            return
        if o.variants is not None or n.variants is not None:
            self._compare_unions(o, n, path)
            return
        self._compare_types(o, n, path)
        self._compare_enum(o, n, path)
        self._compare_bounds(o, n, path)
        self._compare_sizes(o, n, path)
        self._compare_simple(o, n, path)
        self._compare_opaque(o, n, path)
        if o.may_be_object and n.may_be_object:
            self._compare_object(o, n, path)
        if o.may_be_array and n.may_be_array:
            self._compare_array(o, n, path)

    def _compare_types(self, o: Node, n: Node, path: str) -> None:
        if o.types == n.types:
            return
        wider, narrower = covers(n.types, o.types), covers(o.types, n.types)
        if wider and narrower:
            return  # e.g. number vs integer|number
        detail = f"type {_fmt_types(o.types)} -> {_fmt_types(n.types)}"
        old, new = sorted(o.types) if o.types is not None else None, sorted(n.types) if n.types is not None else None
        if wider:
            if o.types is not None and n.types is not None and n.types - o.types == {"null"}:
                detail += " (now nullable)"
            self.emit(K.TYPE_WIDENED, path, detail, old=old, new=new)
        elif narrower:
            if o.types is not None and n.types is not None and o.types - n.types == {"null"}:
                detail += " (no longer nullable)"
            self.emit(K.TYPE_NARROWED, path, detail, old=old, new=new)
        else:
            self.emit(K.TYPE_CHANGED, path, detail, old=old, new=new)

    def _compare_enum(self, o: Node, n: Node, path: str) -> None:
        if o.enum == n.enum:
            return
        if o.enum is None:
            values = [json.loads(v) for v in sorted(n.enum or ())]
            self.emit(K.CONSTRAINT_TIGHTENED, path, f"enum introduced: {values}", new=values)
            return
        if n.enum is None:
            self.emit(K.CONSTRAINT_RELAXED, path, "enum removed: any value of the type is allowed")
            return
        for value in sorted(n.enum - o.enum):
            self.emit(K.ENUM_VALUE_ADDED, path, f"enum value {value} added", new=json.loads(value))
        for value in sorted(o.enum - n.enum):
            self.emit(K.ENUM_VALUE_REMOVED, path, f"enum value {value} removed", old=json.loads(value))

    def _compare_bounds(self, o: Node, n: Node, path: str) -> None:
        for name, old, new, lower in (("minimum", o.lower, n.lower, True), ("maximum", o.upper, n.upper, False)):
            if old == new:
                continue
            detail = f"{name} {_fmt_bound(old, lower)} -> {_fmt_bound(new, lower)}"
            if old is None:
                self.emit(K.CONSTRAINT_TIGHTENED, path, detail, new=new[0])  # type: ignore[index]
            elif new is None:
                self.emit(K.CONSTRAINT_RELAXED, path, detail, old=old[0])
            elif _bound_cmp(old, new, lower) > 0:
                self.emit(K.CONSTRAINT_TIGHTENED, path, detail, old=old[0], new=new[0])
            else:
                self.emit(K.CONSTRAINT_RELAXED, path, detail, old=old[0], new=new[0])

    def _compare_sizes(self, o: Node, n: Node, path: str) -> None:
        for key in (*LOWER_SIZES, *UPPER_SIZES):
            old, new = o.sizes.get(key), n.sizes.get(key)
            if old == new:
                continue
            lower = key in LOWER_SIZES
            detail = f"{key} {old if old is not None else 'none'} -> {new if new is not None else 'none'}"
            if old is None:
                tighter = True
            elif new is None:
                tighter = False
            else:
                tighter = new > old if lower else new < old
            self.emit(K.CONSTRAINT_TIGHTENED if tighter else K.CONSTRAINT_RELAXED, path, detail, old=old, new=new)

    def _compare_simple(self, o: Node, n: Node, path: str) -> None:
        for key in SIMPLE:
            old, new = o.simple.get(key), n.simple.get(key)
            if old == new:
                continue
            if old is None:
                self.emit(K.CONSTRAINT_TIGHTENED, path, f"{key} {new!r} added", new=new)
            elif new is None:
                self.emit(K.CONSTRAINT_RELAXED, path, f"{key} {old!r} removed", old=old)
            else:
                self.emit(K.CONSTRAINT_CHANGED, path, f"{key} {old!r} -> {new!r}", old=old, new=new)
        old_m, new_m = o.multiple_of, n.multiple_of
        if old_m != new_m:
            detail = f"multipleOf {old_m} -> {new_m}"
            if old_m is None:
                self.emit(K.CONSTRAINT_TIGHTENED, path, detail, new=new_m)
            elif new_m is None:
                self.emit(K.CONSTRAINT_RELAXED, path, detail, old=old_m)
            else:
                ratio = Fraction(str(new_m)) / Fraction(str(old_m))
                if ratio.denominator == 1:
                    self.emit(K.CONSTRAINT_TIGHTENED, path, detail, old=old_m, new=new_m)
                elif ratio.numerator == 1:
                    self.emit(K.CONSTRAINT_RELAXED, path, detail, old=old_m, new=new_m)
                else:
                    self.emit(K.CONSTRAINT_CHANGED, path, detail, old=old_m, new=new_m)
        if o.unique_items != n.unique_items:
            kind = K.CONSTRAINT_TIGHTENED if n.unique_items else K.CONSTRAINT_RELAXED
            self.emit(kind, path, f"uniqueItems {o.unique_items} -> {n.unique_items}")

    def _compare_opaque(self, o: Node, n: Node, path: str) -> None:
        for key in sorted(set(o.opaque) | set(n.opaque)):
            if o.opaque.get(key) != n.opaque.get(key):
                self.emit(K.CONSTRAINT_CHANGED, path,
                          f"keyword {key!r} changed; it is not analysed, review it by hand")

    def _compare_object(self, o: Node, n: Node, path: str) -> None:
        old_names = set(o.properties) | o.required
        new_names = set(n.properties) | n.required
        removed = sorted(old_names - new_names)
        added = sorted(new_names - old_names)
        renames = self._renames(o, n, removed, added, path)
        renamed_old = {r for r, _ in renames}
        renamed_new = {a for _, a in renames}
        for old_name, new_name in renames:
            old_path, new_path = child_path(path, old_name), child_path(path, new_name)
            self.emit(K.FIELD_RENAMED, old_path, f"'{old_name}' renamed to '{new_name}'", old=old_name, new=new_name)
            self._requiredness(old_name in o.required, new_name in n.required, new_path)
            self.compare(o.prop(old_name), o.scope, n.prop(new_name), n.scope, new_path)
        for name in removed:
            if name in renamed_old:
                continue
            required = name in o.required
            kind = K.REQUIRED_FIELD_REMOVED if required else K.FIELD_REMOVED
            detail = f"{'required' if required else 'optional'} field '{name}' removed"
            extra = {"backward": False} if n.additional is False else {}
            if extra:
                detail += " (the new object is closed: data that still has it is rejected)"
            self.emit(kind, child_path(path, name), detail, old=name, **extra)
        for name in added:
            if name in renamed_new:
                continue
            required = name in n.required
            kind = K.REQUIRED_FIELD_ADDED if required else K.FIELD_ADDED
            detail = f"{'required' if required else 'optional'} field '{name}' added"
            extra = {"forward": False} if o.additional is False else {}
            if extra:
                detail += " (the old object is closed: old readers reject it)"
            self.emit(kind, child_path(path, name), detail, new=name, **extra)
        for name in sorted(old_names & new_names):
            sub = child_path(path, name)
            self._requiredness(name in o.required, name in n.required, sub)
            self.compare(o.prop(name), o.scope, n.prop(name), n.scope, sub)
        self._compare_additional(o, n, path)

    def _requiredness(self, was: bool, now: bool, path: str) -> None:
        if was and not now:
            self.emit(K.FIELD_MADE_OPTIONAL, path, "required -> optional")
        elif now and not was:
            self.emit(K.FIELD_MADE_REQUIRED, path, "optional -> required")

    def _renames(self, o: Node, n: Node, removed: list[str], added: list[str], path: str) -> list[tuple[str, str]]:
        if not removed or not added:
            return []
        candidates: list[tuple[float, str, str]] = []
        for r in removed:
            hinted = self.hints.get(child_path(path, r))
            if hinted in added:
                candidates.append((2.0, r, hinted))
        for a in added:
            raw = n.properties.get(a)
            if isinstance(raw, dict) and raw.get(RENAME_HINT) in removed:
                candidates.append((2.0, raw[RENAME_HINT], a))
        for r in removed:
            for a in added:
                score = name_similarity(r, a)
                if score < RENAME_THRESHOLD or (r in o.required) != (a in n.required):
                    continue
                if self.same(normalize(o.prop(r), o.scope), normalize(n.prop(a), n.scope)):
                    candidates.append((score, r, a))
        candidates.sort(key=lambda c: (-c[0], min(c[1], c[2]), max(c[1], c[2])))
        used_old: set[str] = set()
        used_new: set[str] = set()
        pairs = []
        for _, r, a in candidates:
            if r in used_old or a in used_new:
                continue
            used_old.add(r)
            used_new.add(a)
            pairs.append((r, a))
        return sorted(pairs)

    def _compare_additional(self, o: Node, n: Node, path: str) -> None:
        oa, na = o.additional, n.additional
        if oa is False and na is False:
            return
        if oa is False:
            self.emit(K.CONSTRAINT_RELAXED, path, "additionalProperties: false removed (the object is open now)")
        elif na is False:
            self.emit(K.CONSTRAINT_TIGHTENED, path, "additionalProperties: false (the object is closed now)")
        elif oa is not True or na is not True:
            self.compare(oa, o.scope, na, n.scope, f"{path}.*")

    def _compare_array(self, o: Node, n: Node, path: str) -> None:
        if o.items is not None or n.items is not None:
            self.compare(True if o.items is None else o.items, o.scope, True if n.items is None else n.items, n.scope,
                         f"{path}[*]")
        for i in range(max(len(o.prefix_items), len(n.prefix_items))):
            old = o.prefix_items[i] if i < len(o.prefix_items) else True
            new = n.prefix_items[i] if i < len(n.prefix_items) else True
            self.compare(old, o.scope, new, n.scope, f"{path}[{i}]")

    def _compare_unions(self, o: Node, n: Node, path: str) -> None:
        old = list(o.variants if o.variants is not None else (o,))
        new = list(n.variants if n.variants is not None else (n,))
        pairs: list[tuple[Node, Node]] = []
        for matcher in (self.same, lambda a, b: a.types == b.types):
            for a in list(old):
                for b in new:
                    if matcher(a, b):
                        pairs.append((a, b))
                        old.remove(a)
                        new.remove(b)
                        break
        for a, b in pairs:
            self.compare_nodes(a, b, path)
        for a in old:
            self.emit(K.TYPE_NARROWED, path, f"union member of type {_fmt_types(a.types)} removed")
        for b in new:
            self.emit(K.TYPE_WIDENED, path, f"union member of type {_fmt_types(b.types)} added")


def check_schema(schema: Any, what: str = "schema") -> None:
    """Raise DiffError when `schema` is not a valid JSON Schema (per its $schema, default 2020-12)."""
    from jsonschema import exceptions, validators

    if not isinstance(schema, dict | bool):
        raise DiffError(f"{what} must be a JSON object")
    try:
        validators.validator_for(schema, default=validators.Draft202012Validator).check_schema(schema)
    except exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise DiffError(f"{what} is not a valid JSON Schema at {where}: {exc.message}") from None
    # Resolve every local $ref once so a dangling one is a clear error now, not a diff failure later.
    Differ().compare(schema, Scope((schema,)), schema, Scope((schema,)), ROOT)


def diff_schemas(old: Any, new: Any, *, rename_hints: Mapping[str, str] | None = None,
                 old_root: Any = None, new_root: Any = None, path: str = ROOT) -> list[Change]:
    """The changes from `old` to `new`, sorted by path then kind. `old_root`/`new_root` are the
    enclosing documents that `#/...` references resolve against (OpenAPI, AsyncAPI)."""
    differ = Differ(rename_hints)
    old_scope = Scope((old_root, old) if old_root is not None else (old,))
    new_scope = Scope((new_root, new) if new_root is not None else (new,))
    differ.compare(old, old_scope, new, new_scope, path)
    return sorted(set(differ.changes), key=lambda c: (c.path, c.kind, c.detail))
