"""A small GraphQL SDL parser and diff.

Supported subset: `schema { query mutation subscription }`, `scalar`, `type` and
`interface` (with `implements A & B`), `union`, `enum`, `input`, field arguments with
default values, list and non-null wrappers, descriptions (strings and block strings),
directives on anything (parsed and ignored), `directive @x ... on ...` definitions
(ignored) and `extend` of every kind (merged into the extended definition). Executable
documents (queries, fragments) are rejected.

Roles: a GraphQL schema is an API; BACKWARD asks "do old clients still work against the
new server?", FORWARD "do new clients still work against the old server?". Outputs are
read by clients (value-set changes flagged as for a response), inputs by the server.

* type removed: ``type_removed`` (breaks BACKWARD); added: ``type_added``; kind changed
  (object -> interface ...): ``type_changed``.
* output field removed: ``field_removed`` (``operation_removed`` on a root type), breaks
  BACKWARD; added: ``field_added``/``operation_added``, breaks FORWARD.
* output field type: non-null -> nullable is ``type_widened`` and breaks BACKWARD (old
  clients may get null); nullable -> non-null ``type_narrowed`` breaks FORWARD; another
  named type or list shape: ``type_changed``.
* arguments and input fields: removed breaks BACKWARD (old clients send it and fail
  validation), and FORWARD too when it was required; added required (non-null without
  default) breaks both, added optional breaks FORWARD; nullable -> non-null ``type_narrowed``
  breaks BACKWARD, the reverse ``type_widened`` breaks FORWARD; losing or gaining a default
  on a non-null input: ``field_made_required`` / ``field_made_optional``.
* enum values: added breaks BACKWARD if the enum is an output (old clients get a value they
  do not know), FORWARD if it is an input, both if both; removed the other way round.
* union member added: ``type_widened``, breaks BACKWARD; removed: ``type_narrowed``, breaks
  both (old clients' fragments on it stop validating).
* interface added to a type: ``type_widened`` (compatible); removed: ``type_narrowed``
  (breaks BACKWARD).
* schema root operation type changed: ``type_changed``.
Default values and directives (including `@deprecated`) are not compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.schema_council.diff import tokens
from services.schema_council.diff.model import Change, ChangeKind, DiffError, change
from services.schema_council.diff.tokens import Tok

K = ChangeKind
_TOKEN = re.compile(
    r'''(?P<ws>[\s,\ufeff]+)|(?P<comment>\#[^\n]*)
    |(?P<block>"""(?:[^"\\]|\\.|"(?!""))*""")
    |(?P<str>"(?:[^"\\\n]|\\.)*")
    |(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    |(?P<name>[_A-Za-z][_0-9A-Za-z]*)
    |(?P<spread>\.\.\.)
    |(?P<punct>[!$&()\:=@\[\]{|}])''',
    re.X,
)
KINDS = {"scalar", "type", "interface", "union", "enum", "input"}


def tokenize(text: str) -> list[Tok]:
    return tokens.tokenize(text, _TOKEN, language="GraphQL", skip=frozenset({"ws", "comment"}))


@dataclass
class InputValue:
    name: str
    type: str
    has_default: bool = False

    @property
    def required(self) -> bool:
        return self.type.endswith("!") and not self.has_default


@dataclass
class GqlField:
    name: str
    type: str
    args: dict[str, InputValue] = field(default_factory=dict)


@dataclass
class GqlType:
    kind: str  # scalar, type, interface, union, enum, input
    name: str
    fields: dict[str, GqlField] = field(default_factory=dict)  # type, interface
    inputs: dict[str, InputValue] = field(default_factory=dict)  # input
    interfaces: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)  # union
    values: set[str] = field(default_factory=set)  # enum


@dataclass
class Schema:
    types: dict[str, GqlType] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)

    def root_types(self) -> set[str]:
        if self.roots:
            return set(self.roots.values())
        return {n for n in ("Query", "Mutation", "Subscription") if n in self.types}

    def effective_roots(self) -> dict[str, str]:
        if self.roots:
            return dict(self.roots)
        return {op: name for op, name in (("query", "Query"), ("mutation", "Mutation"), ("subscription", "Subscription"))
                if name in self.types}


class _Parser(tokens.TokenCursor):
    language = "GraphQL"
    end = "end of document"
    keyword_kinds = frozenset({"punct", "name", "spread"})

    def __init__(self, text: str) -> None:
        super().__init__(tokenize(text))
        self.schema = Schema()
        self.pending_extensions: list[GqlType] = []

    def name(self, what: str = "a name") -> str:
        return self.word("name", what)

    def description(self) -> None:
        tok = self.peek()
        if tok is not None and tok.kind in ("str", "block"):
            self.i += 1

    def directives(self) -> None:
        while self.accept("@"):
            self.name("a directive name")
            if self.accept("("):
                while not self.accept(")"):
                    self.name("an argument name")
                    self.expect(":")
                    self.value()

    def value(self) -> None:
        tok = self.next()
        if tok.text == "$":
            self.name("a variable name")
        elif tok.text == "[":
            while not self.accept("]"):
                self.value()
        elif tok.text == "{":
            while not self.accept("}"):
                self.name("a field name")
                self.expect(":")
                self.value()
        elif tok.kind not in ("num", "str", "block", "name"):
            raise DiffError(f"GraphQL line {tok.line}: unexpected {tok.text!r} in a value")

    def type_ref(self) -> str:
        if self.accept("["):
            inner = self.type_ref()
            self.expect("]")
            out = f"[{inner}]"
        else:
            out = self.name("a type")
        if self.accept("!"):
            out += "!"
        return out

    def input_values(self, closing: str) -> dict[str, InputValue]:
        values: dict[str, InputValue] = {}
        while not self.accept(closing):
            self.description()
            name = self.name("an argument or input field name")
            self.expect(":")
            type_ = self.type_ref()
            has_default = False
            if self.accept("="):
                self.value()
                has_default = True
            self.directives()
            if name in values:
                raise self.error(f"{name} is defined twice")
            values[name] = InputValue(name, type_, has_default)
        return values

    def fields(self) -> dict[str, GqlField]:
        out: dict[str, GqlField] = {}
        self.expect("{")
        while not self.accept("}"):
            self.description()
            name = self.name("a field name")
            args = self.input_values(")") if self.accept("(") else {}
            self.expect(":")
            type_ = self.type_ref()
            self.directives()
            if name in out:
                raise self.error(f"field {name} is defined twice")
            out[name] = GqlField(name, type_, args)
        return out

    def parse(self) -> Schema:
        while self.peek() is not None:
            self.description()
            tok = self.peek()
            if tok is None:
                break
            word = tok.text
            if word in ("query", "mutation", "subscription", "fragment", "{"):
                raise self.error("executable definitions (queries, fragments) are not SDL")
            if word == "directive":
                self.directive_definition()
                continue
            extend = self.accept("extend")
            self.definition(extend)
        for ext in self.pending_extensions:
            self.merge(ext, extend=True)
        self.validate()
        return self.schema

    def directive_definition(self) -> None:
        self.expect("directive")
        self.expect("@")
        self.name("a directive name")
        if self.accept("("):
            self.input_values(")")
        self.accept("repeatable")
        self.expect("on")
        self.accept("|")
        self.name("a directive location")
        while self.accept("|"):
            self.name("a directive location")

    def definition(self, extend: bool) -> None:
        tok = self.next()
        word = tok.text
        if word == "schema":
            self.directives()
            if self.at("{"):
                self.expect("{")
                while not self.accept("}"):
                    op = self.name("query, mutation or subscription")
                    if op not in ("query", "mutation", "subscription"):
                        raise self.error(f"unknown root operation {op!r}")
                    self.expect(":")
                    self.schema.roots[op] = self.name("a type name")
            return
        if word not in KINDS:
            raise DiffError(f"GraphQL line {tok.line}: unexpected {word!r}; expected a type definition")
        t = GqlType(kind=word, name=self.name("a type name"))
        if word in ("type", "interface") and self.accept("implements"):
            self.accept("&")
            t.interfaces.add(self.name("an interface name"))
            while self.accept("&") or self._legacy_interface():
                t.interfaces.add(self.name("an interface name"))
        self.directives()
        if word in ("type", "interface") and self.at("{"):
            t.fields = self.fields()
        elif word == "input" and self.accept("{"):
            t.inputs = self.input_values("}")
        elif word == "enum" and self.accept("{"):
            while not self.accept("}"):
                self.description()
                t.values.add(self.name("an enum value"))
                self.directives()
        elif word == "union" and self.accept("="):
            self.accept("|")
            t.members.add(self.name("a union member"))
            while self.accept("|"):
                t.members.add(self.name("a union member"))
        if extend:
            self.pending_extensions.append(t)
        else:
            self.merge(t, extend=False)

    def _legacy_interface(self) -> bool:
        """`implements A, B` (the old syntax; commas are whitespace): is the next name another interface?"""
        tok = self.peek()
        return tok is not None and tok.kind == "name" and tok.text not in KINDS | {"schema", "directive", "extend"}

    def merge(self, t: GqlType, *, extend: bool) -> None:
        existing = self.schema.types.get(t.name)
        if existing is None:
            if extend:
                raise DiffError(f"GraphQL: extend {t.kind} {t.name}: {t.name} is not defined")
            self.schema.types[t.name] = t
            return
        if not extend:
            raise DiffError(f"GraphQL: type {t.name} is defined twice")
        if existing.kind != t.kind:
            raise DiffError(f"GraphQL: extend {t.kind} {t.name}: {t.name} is a {existing.kind}")
        for name, f in t.fields.items():
            if name in existing.fields:
                raise DiffError(f"GraphQL: extend {t.name}: field {name} already exists")
            existing.fields[name] = f
        existing.inputs.update(t.inputs)
        existing.interfaces |= t.interfaces
        existing.members |= t.members
        existing.values |= t.values

    def validate(self) -> None:
        builtins = {"String", "Int", "Float", "Boolean", "ID"}
        known = set(self.schema.types) | builtins
        for t in self.schema.types.values():
            refs = [f.type for f in t.fields.values()] + [a.type for f in t.fields.values() for a in f.args.values()]
            refs += [v.type for v in t.inputs.values()]
            refs += list(t.members) + list(t.interfaces)
            for ref in refs:
                base = ref.replace("[", "").replace("]", "").replace("!", "")
                if base not in known:
                    raise DiffError(f"GraphQL: {t.name} refers to unknown type {base}")


def parse(text: Any) -> Schema:
    if not isinstance(text, str):
        raise DiffError("a GraphQL document must be the SDL text (a string)")
    return _Parser(text).parse()


def check(text: Any) -> None:
    parse(text)


def _unwrap(ref: str) -> tuple[bool, str]:
    if ref.endswith("!"):
        return True, ref[:-1]
    return False, ref


def compare_refs(old: str, new: str) -> str:
    """How the value set of a type reference changed: same, widened (accepts more: a non-null
    became nullable), narrowed, or changed (another named type or list shape)."""
    o_nn, o_inner = _unwrap(old)
    n_nn, n_inner = _unwrap(new)
    if o_inner.startswith("[") and n_inner.startswith("["):
        inner = compare_refs(o_inner[1:-1], n_inner[1:-1])
    elif o_inner.startswith("[") or n_inner.startswith("["):
        return "changed"
    else:
        inner = "same" if o_inner == n_inner else "changed"
    nullability = "same" if o_nn == n_nn else ("widened" if o_nn else "narrowed")
    if "changed" in (inner, nullability):
        return "changed"
    results = {inner, nullability} - {"same"}
    if not results:
        return "same"
    if len(results) == 2:
        return "changed"
    return results.pop()


def _base(ref: str) -> str:
    return ref.replace("[", "").replace("]", "").replace("!", "")


def _enum_usage(schema: Schema) -> dict[str, set[str]]:
    usage: dict[str, set[str]] = {}
    for t in schema.types.values():
        for f in t.fields.values():
            usage.setdefault(_base(f.type), set()).add("output")
            for a in f.args.values():
                usage.setdefault(_base(a.type), set()).add("input")
        for v in t.inputs.values():
            usage.setdefault(_base(v.type), set()).add("input")
    return usage


def diff_graphql(old_text: str, new_text: str) -> list[Change]:
    old, new = parse(old_text), parse(new_text)
    changes: list[Change] = []
    o_roots, n_roots = old.effective_roots(), new.effective_roots()
    for op in sorted(set(o_roots) | set(n_roots)):
        if o_roots.get(op) != n_roots.get(op) and op in o_roots and op in n_roots:
            changes.append(change(K.TYPE_CHANGED, f"schema.{op}", f"{op} root type {o_roots[op]} -> {n_roots[op]}"))
    roots = old.root_types() | new.root_types()
    for name in sorted(old.types.keys() - new.types.keys()):
        changes.append(change(K.TYPE_REMOVED, name, f"{old.types[name].kind} {name} removed"))
    for name in sorted(new.types.keys() - old.types.keys()):
        changes.append(change(K.TYPE_ADDED, name, f"{new.types[name].kind} {name} added"))
    usage_old, usage_new = _enum_usage(old), _enum_usage(new)
    for name in sorted(old.types.keys() & new.types.keys()):
        o, n = old.types[name], new.types[name]
        if o.kind != n.kind:
            changes.append(change(K.TYPE_CHANGED, name, f"{name}: {o.kind} -> {n.kind}", old=o.kind, new=n.kind))
            continue
        if o.kind in ("type", "interface"):
            changes += _diff_output_fields(o, n, name in roots)
            for iface in sorted(n.interfaces - o.interfaces):
                changes.append(change(K.TYPE_WIDENED, name, f"now implements {iface}", new=iface, backward=True, forward=True))
            for iface in sorted(o.interfaces - n.interfaces):
                changes.append(change(K.TYPE_NARROWED, name, f"no longer implements {iface}", old=iface,
                                      backward=False, forward=True))
        elif o.kind == "input":
            changes += _diff_inputs(o.inputs, n.inputs, name)
        elif o.kind == "union":
            for member in sorted(n.members - o.members):
                changes.append(change(K.TYPE_WIDENED, name, f"union member {member} added", new=member,
                                      backward=False, forward=True))
            for member in sorted(o.members - n.members):
                changes.append(change(K.TYPE_NARROWED, name, f"union member {member} removed", old=member,
                                      backward=False, forward=False))
        elif o.kind == "enum":
            used = usage_old.get(name, set()) | usage_new.get(name, set())
            output, input_ = "output" in used, "input" in used
            for value in sorted(n.values - o.values):
                changes.append(change(K.ENUM_VALUE_ADDED, name, f"enum value {value} added", new=value,
                                      backward=not output, forward=not input_))
            for value in sorted(o.values - n.values):
                changes.append(change(K.ENUM_VALUE_REMOVED, name, f"enum value {value} removed", old=value,
                                      backward=not input_, forward=not output))
    return changes


def _diff_output_fields(o: GqlType, n: GqlType, root: bool) -> list[Change]:
    changes: list[Change] = []
    for fname in sorted(o.fields.keys() - n.fields.keys()):
        kind = K.OPERATION_REMOVED if root else K.FIELD_REMOVED
        changes.append(change(kind, f"{o.name}.{fname}", f"field {o.name}.{fname} removed", backward=False, forward=True))
    for fname in sorted(n.fields.keys() - o.fields.keys()):
        kind = K.OPERATION_ADDED if root else K.FIELD_ADDED
        changes.append(change(kind, f"{n.name}.{fname}", f"field {n.name}.{fname} added", backward=True, forward=False))
    for fname in sorted(o.fields.keys() & n.fields.keys()):
        of, nf = o.fields[fname], n.fields[fname]
        path = f"{n.name}.{fname}"
        how = compare_refs(of.type, nf.type)
        detail = f"type {of.type} -> {nf.type}"
        if how == "widened":
            changes.append(change(K.TYPE_WIDENED, path, detail + " (may return null now)", old=of.type, new=nf.type,
                                  backward=False, forward=True))
        elif how == "narrowed":
            changes.append(change(K.TYPE_NARROWED, path, detail, old=of.type, new=nf.type, backward=True, forward=False))
        elif how == "changed":
            changes.append(change(K.TYPE_CHANGED, path, detail, old=of.type, new=nf.type))
        changes += _diff_inputs(of.args, nf.args, path, argument=True)
    return changes


def _diff_inputs(o: dict[str, InputValue], n: dict[str, InputValue], owner: str, *, argument: bool = False) -> list[Change]:
    changes: list[Change] = []
    what = "argument" if argument else "input field"

    def where(name: str) -> str:
        return f"{owner}({name})" if argument else f"{owner}.{name}"

    for name in sorted(o.keys() - n.keys()):
        required = o[name].required
        changes.append(change(K.REQUIRED_FIELD_REMOVED if required else K.FIELD_REMOVED, where(name),
                              f"{'required ' if required else ''}{what} {name} removed", backward=False,
                              forward=not required))
    for name in sorted(n.keys() - o.keys()):
        required = n[name].required
        changes.append(change(K.REQUIRED_FIELD_ADDED if required else K.FIELD_ADDED, where(name),
                              f"{'required ' if required else 'optional '}{what} {name} added", backward=not required,
                              forward=False))
    for name in sorted(o.keys() & n.keys()):
        ov, nv = o[name], n[name]
        how = compare_refs(ov.type, nv.type)
        detail = f"type {ov.type} -> {nv.type}"
        if how == "widened":
            changes.append(change(K.TYPE_WIDENED, where(name), detail, old=ov.type, new=nv.type))
        elif how == "narrowed":
            changes.append(change(K.TYPE_NARROWED, where(name), detail, old=ov.type, new=nv.type))
        elif how == "changed":
            changes.append(change(K.TYPE_CHANGED, where(name), detail, old=ov.type, new=nv.type))
        elif ov.required != nv.required:
            kind = K.FIELD_MADE_REQUIRED if nv.required else K.FIELD_MADE_OPTIONAL
            changes.append(change(kind, where(name), "default value removed" if nv.required else "default value added"))
    return changes
