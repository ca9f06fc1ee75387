"""A small protobuf (.proto) parser and diff.

Supported subset (proto2 and proto3 syntax): `syntax`, `package`, `import` (imported types
stay opaque names), `option` (skipped), `message` (nested), `enum` (nested), fields with
`optional`/`repeated`/`required` labels and field options (`json_name` is compared, others
skipped), `map<K, V>`, `oneof`, `reserved` (numbers, ranges, `max`, names), `service` with
`rpc` (`stream` in either direction, `{ option ...; }` bodies). Comments `//` and `/* */`.
Rejected with a clear error: `edition`, `extend`, `extensions`, `group`.

Identity on the wire is the field NUMBER, so fields are matched by number:

* removed: ``field_removed`` (compatible; the detail asks to `reserved` the number) or
  ``required_field_removed`` for a proto2 `required` field (breaks FORWARD).
* added: ``field_added`` (compatible), ``required_field_added`` (proto2, breaks BACKWARD);
  re-using a reserved number is ``type_changed`` (breaking).
* same number, new name: ``field_renamed`` - binary compatible, but it breaks the JSON
  mapping and generated code, so it is breaking here (Summit speaks JSON).
* same name, new number: ``field_renumbered`` (breaking).
* scalar type changes: within a wire-compatible group, widening (int32 -> int64,
  uint32 -> uint64, uint32 -> int64, sint32 -> sint64, bool -> any varint, string -> bytes)
  is ``type_widened`` (breaks FORWARD), the reverse ``type_narrowed`` (breaks BACKWARD);
  anything else (float -> double, int32 -> string, message A -> message B) ``type_changed``.
* singular -> repeated: ``type_widened``; repeated -> singular: ``type_narrowed``;
  proto2 optional <-> required: ``field_made_optional`` / ``field_made_required``.
* moving an existing field into or out of a oneof, or changing `json_name`:
  ``constraint_changed`` (breaking).
* message/enum removed: ``type_removed`` (breaks BACKWARD); added: ``type_added``.
* enum values by name: added ``enum_value_added`` (breaks FORWARD), removed
  ``enum_value_removed`` (breaks BACKWARD), renumbered ``type_changed``.
* rpc removed: ``operation_removed``; added: ``operation_added``; request/response type or
  streaming changed: ``type_changed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.schema_council.diff import tokens
from services.schema_council.diff.model import Change, ChangeKind, DiffError, change
from services.schema_council.diff.tokens import Tok

K = ChangeKind
SCALARS = frozenset({
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32",
    "sfixed64", "bool", "string", "bytes",
})
WIDENINGS = {
    ("int32", "int64"), ("uint32", "uint64"), ("uint32", "int64"), ("sint32", "sint64"), ("string", "bytes"),
    ("bool", "int32"), ("bool", "int64"), ("bool", "uint32"), ("bool", "uint64"),
}
MAX_FIELD = 536_870_911

_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<lc>//[^\n]*)|(?P<bc>/\*.*?\*/)
    |(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))
    |(?P<id>\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<sym>[{}\[\]()<>;=,:\-+/])""",
    re.S | re.X,
)


def tokenize(text: str) -> list[Tok]:
    return tokens.tokenize(text, _TOKEN, language="protobuf", skip=frozenset({"ws", "lc", "bc"}),
                           check=lambda kind, text: "unterminated comment" if kind == "bc" and not text.endswith("*/") else None)


@dataclass
class Field:
    name: str
    number: int
    type: str
    label: str = ""  # "", "optional", "repeated", "required", "map"
    key_type: str = ""
    oneof: str | None = None
    json_name: str | None = None
    scope: str = ""


@dataclass
class Message:
    name: str
    fields: dict[int, Field] = field(default_factory=dict)
    reserved_numbers: list[tuple[int, int]] = field(default_factory=list)
    reserved_names: set[str] = field(default_factory=set)

    def reserved(self, number: int) -> bool:
        return any(lo <= number <= hi for lo, hi in self.reserved_numbers)


@dataclass
class Enum:
    name: str
    values: dict[str, int] = field(default_factory=dict)


@dataclass
class Rpc:
    name: str
    input: str
    output: str
    client_stream: bool
    server_stream: bool
    scope: str = ""


@dataclass
class ProtoFile:
    syntax: str = "proto2"
    package: str = ""
    messages: dict[str, Message] = field(default_factory=dict)
    enums: dict[str, Enum] = field(default_factory=dict)
    rpcs: dict[str, Rpc] = field(default_factory=dict)


class _Parser(tokens.TokenCursor):
    language = "protobuf"
    end = "end of file"

    def __init__(self, text: str) -> None:
        super().__init__(tokenize(text))
        self.file = ProtoFile()

    def ident(self, what: str = "a name") -> str:
        return self.word("id", what)

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "num":
            raise DiffError(f"protobuf line {tok.line}: expected a number, found {tok.text!r}")
        try:
            return int(tok.text, 0)
        except ValueError:
            raise DiffError(f"protobuf line {tok.line}: {tok.text!r} is not an integer") from None

    def skip_statement(self) -> None:
        depth = 0
        while True:
            tok = self.next()
            if tok.text in ("{", "["):
                depth += 1
            elif tok.text in ("}", "]"):
                depth -= 1
            elif tok.text == ";" and depth == 0:
                return

    def string(self) -> str:
        tok = self.next()
        if tok.kind != "str":
            raise DiffError(f"protobuf line {tok.line}: expected a string, found {tok.text!r}")
        return tok.text[1:-1]

    # grammar

    def parse(self) -> ProtoFile:
        while self.peek() is not None:
            tok = self.peek()
            assert tok is not None
            word = tok.text
            if self.accept(";"):
                continue
            if word == "syntax":
                self.next()
                self.expect("=")
                self.file.syntax = self.string()
                if self.file.syntax not in ("proto2", "proto3"):
                    raise self.error(f"syntax {self.file.syntax!r} is not supported (proto2, proto3)")
                self.expect(";")
            elif word == "edition":
                raise self.error("editions are not supported (proto2 and proto3 syntax only)")
            elif word == "package":
                self.next()
                self.file.package = self.ident("a package name").lstrip(".")
                self.expect(";")
            elif word in ("import", "option"):
                self.skip_statement()
            elif word == "message":
                self.next()
                self.message(self.file.package)
            elif word == "enum":
                self.next()
                self.enum(self.file.package)
            elif word == "service":
                self.next()
                self.service()
            elif word == "extend":
                raise self.error("extend is not supported")
            else:
                raise self.error(f"unexpected {word!r} at top level")
        self.resolve_types()
        return self.file

    @staticmethod
    def _qualify(scope: str, name: str) -> str:
        return f"{scope}.{name}" if scope else name

    def message(self, scope: str) -> None:
        name = self._qualify(scope, self.ident("a message name"))
        if name in self.file.messages or name in self.file.enums:
            raise self.error(f"{name} is defined twice")
        msg = Message(name)
        self.file.messages[name] = msg
        self.expect("{")
        while not self.accept("}"):
            self.message_item(msg, None)

    def message_item(self, msg: Message, oneof: str | None) -> None:
        tok = self.peek()
        if tok is None:
            raise self.error(f"message {msg.name} is not closed")
        word = tok.text
        if self.accept(";"):
            return
        if word == "option":
            self.skip_statement()
        elif word == "message" and oneof is None:
            self.next()
            self.message(msg.name)
        elif word == "enum" and oneof is None:
            self.next()
            self.enum(msg.name)
        elif word == "reserved" and oneof is None:
            self.next()
            self.reserved(msg)
        elif word == "oneof" and oneof is None:
            self.next()
            group = self.ident("a oneof name")
            self.expect("{")
            while not self.accept("}"):
                self.message_item(msg, group)
        elif word in ("extensions", "extend", "group") or (word in ("optional", "required", "repeated") and (self.peek(1) or tok).text == "group"):
            raise self.error(f"{word} is not supported")
        else:
            self.field(msg, oneof)

    def reserved(self, msg: Message) -> None:
        while True:
            tok = self.peek()
            if tok is not None and tok.kind == "str":
                msg.reserved_names.add(self.string())
            elif tok is not None and tok.kind == "id":  # edition-style bare names
                msg.reserved_names.add(self.ident())
            else:
                lo = self.integer()
                hi = lo
                if self.accept("to"):
                    hi = MAX_FIELD if self.accept("max") else self.integer()
                msg.reserved_numbers.append((lo, hi))
            if self.accept(";"):
                return
            self.expect(",")

    def field(self, msg: Message, oneof: str | None) -> None:
        label = ""
        if (self.peek() or Tok("", "", 0)).text in ("optional", "repeated", "required") and oneof is None:
            label = self.next().text
        key_type = ""
        if self.accept("map"):
            self.expect("<")
            key_type = self.ident("a map key type")
            self.expect(",")
            type_name = self.ident("a map value type")
            self.expect(">")
            label = "map"
        else:
            type_name = self.ident("a field type")
        name = self.ident("a field name")
        self.expect("=")
        number = self.integer()
        if not 1 <= number <= MAX_FIELD:
            raise self.error(f"field {name}: number {number} is out of range")
        json_name = None
        if self.accept("["):
            while True:
                option = self.option_name()
                self.expect("=")
                value = self.option_value()
                if option == "json_name":
                    json_name = value
                if self.accept("]"):
                    break
                self.expect(",")
        self.expect(";")
        if number in msg.fields:
            raise self.error(f"message {msg.name}: field number {number} is used twice")
        if any(f.name == name for f in msg.fields.values()):
            raise self.error(f"message {msg.name}: field {name} is defined twice")
        msg.fields[number] = Field(name=name, number=number, type=type_name, label=label, key_type=key_type,
                                   oneof=oneof, json_name=json_name, scope=msg.name)

    def option_name(self) -> str:
        if self.accept("("):
            name = "(" + self.ident("an option name") + ")"
            self.expect(")")
            while self.peek() is not None and (self.peek() or Tok("", "", 0)).text.startswith("."):
                name += self.ident()
            return name
        return self.ident("an option name")

    def option_value(self) -> Any:
        tok = self.next()
        if tok.kind == "str":
            return tok.text[1:-1]
        if tok.text == "{":
            depth = 1
            while depth:
                t = self.next()
                depth += {"{": 1, "}": -1}.get(t.text, 0)
            return None
        if tok.text in ("-", "+"):
            return self.next().text
        return tok.text

    def enum(self, scope: str) -> None:
        name = self._qualify(scope, self.ident("an enum name"))
        if name in self.file.messages or name in self.file.enums:
            raise self.error(f"{name} is defined twice")
        en = Enum(name)
        self.file.enums[name] = en
        self.expect("{")
        while not self.accept("}"):
            tok = self.peek()
            if tok is None:
                raise self.error(f"enum {name} is not closed")
            if self.accept(";"):
                continue
            if tok.text in ("option", "reserved"):
                self.skip_statement()
                continue
            value_name = self.ident("an enum value")
            self.expect("=")
            negative = self.accept("-")
            number = self.integer()
            en.values[value_name] = -number if negative else number
            if self.accept("["):
                depth = 1
                while depth:
                    t = self.next()
                    depth += {"[": 1, "]": -1}.get(t.text, 0)
            self.expect(";")

    def service(self) -> None:
        name = self._qualify(self.file.package, self.ident("a service name"))
        self.expect("{")
        while not self.accept("}"):
            if self.accept(";"):
                continue
            tok = self.peek()
            if tok is not None and tok.text == "option":
                self.skip_statement()
                continue
            self.expect("rpc")
            rpc_name = self.ident("an rpc name")
            self.expect("(")
            client_stream = self.accept("stream")
            input_type = self.ident("a request type")
            self.expect(")")
            self.expect("returns")
            self.expect("(")
            server_stream = self.accept("stream")
            output_type = self.ident("a response type")
            self.expect(")")
            if self.accept("{"):
                while not self.accept("}"):
                    if not self.accept(";"):
                        self.skip_statement()
            else:
                self.expect(";")
            self.file.rpcs[f"{name}.{rpc_name}"] = Rpc(rpc_name, input_type, output_type, client_stream, server_stream,
                                                       scope=self.file.package)

    def resolve(self, type_name: str, scope: str) -> str:
        if type_name in SCALARS:
            return type_name
        if type_name.startswith("."):
            return type_name[1:]
        known = self.file.messages.keys() | self.file.enums.keys()
        parts = scope.split(".") if scope else []
        for i in range(len(parts), -1, -1):
            candidate = ".".join([*parts[:i], type_name])
            if candidate in known:
                return candidate
        return type_name  # imported: compared by name

    def resolve_types(self) -> None:
        for msg in self.file.messages.values():
            for f in msg.fields.values():
                f.type = self.resolve(f.type, f.scope)
        for rpc in self.file.rpcs.values():
            rpc.input = self.resolve(rpc.input, rpc.scope)
            rpc.output = self.resolve(rpc.output, rpc.scope)


def parse(text: Any) -> ProtoFile:
    if not isinstance(text, str):
        raise DiffError("a protobuf document must be the .proto source text (a string)")
    return _Parser(text).parse()


def check(text: Any) -> None:
    parse(text)


def _short(name: str, package: str) -> str:
    return name[len(package) + 1:] if package and name.startswith(package + ".") else name


def _type_change(o: str, n: str) -> ChangeKind | None:
    if o == n:
        return None
    if (o, n) in WIDENINGS:
        return K.TYPE_WIDENED
    if (n, o) in WIDENINGS:
        return K.TYPE_NARROWED
    return K.TYPE_CHANGED


def diff_protobuf(old_text: str, new_text: str) -> list[Change]:
    old, new = parse(old_text), parse(new_text)
    pkg = old.package if old.package == new.package else ""

    def short(name: str) -> str:
        return _short(name, pkg)

    changes: list[Change] = []
    for kind_name, o_defs, n_defs in (("message", old.messages, new.messages), ("enum", old.enums, new.enums)):
        for name in sorted(o_defs.keys() - n_defs.keys()):
            changes.append(change(K.TYPE_REMOVED, short(name), f"{kind_name} {short(name)} removed"))
        for name in sorted(n_defs.keys() - o_defs.keys()):
            changes.append(change(K.TYPE_ADDED, short(name), f"{kind_name} {short(name)} added"))
    for name in sorted(old.messages.keys() & new.messages.keys()):
        changes += _diff_message(old.messages[name], new.messages[name], short)
    for name in sorted(old.enums.keys() & new.enums.keys()):
        o_vals, n_vals = old.enums[name].values, new.enums[name].values
        for value in sorted(n_vals.keys() - o_vals.keys()):
            changes.append(change(K.ENUM_VALUE_ADDED, short(name), f"enum value {value} = {n_vals[value]} added", new=value))
        for value in sorted(o_vals.keys() - n_vals.keys()):
            changes.append(change(K.ENUM_VALUE_REMOVED, short(name), f"enum value {value} removed", old=value))
        for value in sorted(o_vals.keys() & n_vals.keys()):
            if o_vals[value] != n_vals[value]:
                changes.append(change(K.TYPE_CHANGED, f"{short(name)}.{value}",
                                      f"enum value {value} renumbered {o_vals[value]} -> {n_vals[value]}",
                                      old=o_vals[value], new=n_vals[value]))
    for key in sorted(old.rpcs.keys() - new.rpcs.keys()):
        changes.append(change(K.OPERATION_REMOVED, short(key), f"rpc {short(key)} removed"))
    for key in sorted(new.rpcs.keys() - old.rpcs.keys()):
        changes.append(change(K.OPERATION_ADDED, short(key), f"rpc {short(key)} added"))
    for key in sorted(old.rpcs.keys() & new.rpcs.keys()):
        o, n = old.rpcs[key], new.rpcs[key]
        for what, ov, nv in (("request", o.input, n.input), ("response", o.output, n.output)):
            if ov != nv:
                changes.append(change(K.TYPE_CHANGED, short(key), f"{what} type {short(ov)} -> {short(nv)}",
                                      old=short(ov), new=short(nv)))
        for what, ov, nv in (("client", o.client_stream, n.client_stream), ("server", o.server_stream, n.server_stream)):
            if ov != nv:
                changes.append(change(K.TYPE_CHANGED, short(key), f"{what} streaming {ov} -> {nv}"))
    return changes


def _diff_message(o: Message, n: Message, short) -> list[Change]:
    changes: list[Change] = []
    mname = short(o.name)
    o_by_name = {f.name: f for f in o.fields.values()}
    n_by_name = {f.name: f for f in n.fields.values()}
    removed = sorted(o.fields.keys() - n.fields.keys())
    added = sorted(n.fields.keys() - o.fields.keys())
    renumbered = {f.name for num in removed if (f := o.fields[num]).name in n_by_name and n_by_name[f.name].number in added}
    for name in sorted(renumbered):
        of, nf = o_by_name[name], n_by_name[name]
        changes.append(change(K.FIELD_RENUMBERED, f"{mname}.{name}", f"field {name} renumbered {of.number} -> {nf.number}",
                              old=of.number, new=nf.number))
    for num in removed:
        f = o.fields[num]
        if f.name in renumbered:
            continue
        required = f.label == "required"
        detail = f"{'required ' if required else ''}field {f.name} = {num} removed"
        if not n.reserved(num):
            detail += f"; reserve the number (reserved {num};) so it is never reused"
        changes.append(change(K.REQUIRED_FIELD_REMOVED if required else K.FIELD_REMOVED, f"{mname}.{f.name}", detail,
                              old=num))
    for num in added:
        f = n.fields[num]
        if f.name in renumbered:
            continue
        path = f"{mname}.{f.name}"
        if o.reserved(num) or f.name in o.reserved_names:
            changes.append(change(K.TYPE_CHANGED, path, f"field {f.name} = {num} re-uses a reserved number or name"))
        elif f.label == "required":
            changes.append(change(K.REQUIRED_FIELD_ADDED, path, f"required field {f.name} = {num} added", new=num))
        else:
            changes.append(change(K.FIELD_ADDED, path, f"field {f.name} = {num} added", new=num))
    for num in sorted(o.fields.keys() & n.fields.keys()):
        of, nf = o.fields[num], n.fields[num]
        path = f"{mname}.{nf.name}"
        if of.name != nf.name:
            changes.append(change(K.FIELD_RENAMED, f"{mname}.{of.name}",
                                  f"field {num} renamed {of.name} -> {nf.name} (binary compatible; breaks JSON and generated code)",
                                  old=of.name, new=nf.name))
        changes += _diff_field(of, nf, path, short)
    return changes


def _diff_field(of: Field, nf: Field, path: str, short) -> list[Change]:
    changes: list[Change] = []
    if (of.label == "map") != (nf.label == "map"):
        return [change(K.TYPE_CHANGED, path, f"{_fmt(of, short)} -> {_fmt(nf, short)}")]
    if of.label == "map" and of.key_type != nf.key_type:
        changes.append(change(K.TYPE_CHANGED, path, f"map key type {of.key_type} -> {nf.key_type}"))
    kind = _type_change(of.type, nf.type)
    if kind is not None:
        changes.append(change(kind, path, f"type {short(of.type)} -> {short(nf.type)}", old=short(of.type), new=short(nf.type)))
    if of.label != nf.label and "map" not in (of.label, nf.label):
        labels = {of.label, nf.label}
        if nf.label == "repeated":
            changes.append(change(K.TYPE_WIDENED, path, f"{of.label or 'singular'} -> repeated"))
        elif of.label == "repeated":
            changes.append(change(K.TYPE_NARROWED, path, f"repeated -> {nf.label or 'singular'}"))
        elif nf.label == "required":
            changes.append(change(K.FIELD_MADE_REQUIRED, path, f"{of.label or 'singular'} -> required"))
        elif of.label == "required":
            changes.append(change(K.FIELD_MADE_OPTIONAL, path, f"required -> {nf.label or 'singular'}"))
        elif labels != {"", "optional"}:
            changes.append(change(K.CONSTRAINT_CHANGED, path, f"label {of.label} -> {nf.label}"))
    if of.oneof != nf.oneof:
        changes.append(change(K.CONSTRAINT_CHANGED, path, f"oneof {of.oneof or '(none)'} -> {nf.oneof or '(none)'}"))
    if of.name == nf.name and _json_name(of) != _json_name(nf):
        changes.append(change(K.CONSTRAINT_CHANGED, path, f"json_name {_json_name(of)} -> {_json_name(nf)}",
                              old=_json_name(of), new=_json_name(nf)))
    return changes


def _json_name(f: Field) -> str:
    """The name in the JSON mapping: json_name, else lowerCamelCase of the field name (as protoc does)."""
    if f.json_name is not None:
        return f.json_name
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), f.name)


def _fmt(f: Field, short) -> str:
    if f.label == "map":
        return f"map<{f.key_type}, {short(f.type)}>"
    return f"{f.label + ' ' if f.label else ''}{short(f.type)}"
