"""A parser for the PostgreSQL DDL subset Summit's migrations use. Pure: text in, schema out.

No SQL parser is installed in the platform's environment, and a general one would be the
wrong tool anyway: this one only has to understand *table structure*, and must refuse,
loudly and with the file and line, anything that could change structure in a way it does
not understand (rather than drawing a wrong ERD).

Supported statements (case-insensitive; `--` and nested `/* */` comments; `'..'`, `E'..'`
and `$tag$..$tag$` strings; `".."` quoted identifiers keep their case, others fold to
lower case as Postgres does):

  CREATE [UNLOGGED] TABLE [IF NOT EXISTS] t ( column | table_constraint, ... )
      column:  name type [CONSTRAINT c] [NOT NULL | NULL | DEFAULT expr | PRIMARY KEY | UNIQUE
               | REFERENCES t [(cols)] [MATCH ..] [ON DELETE/UPDATE action] [[NOT] DEFERRABLE]
               [INITIALLY DEFERRED|IMMEDIATE] | CHECK (expr) | COLLATE c
               | GENERATED ALWAYS AS (expr) STORED | GENERATED {ALWAYS|BY DEFAULT} AS IDENTITY [(..)]] ...
      table_constraint: [CONSTRAINT c] PRIMARY KEY (cols) | UNIQUE [NULLS [NOT] DISTINCT] (cols)
               | FOREIGN KEY (cols) REFERENCES t [(cols)] [actions] | CHECK (expr)
  ALTER TABLE [IF EXISTS] [ONLY] t action[, action ...]
      ADD [COLUMN] [IF NOT EXISTS] column | ADD table_constraint | DROP [COLUMN] [IF EXISTS] c
      | DROP CONSTRAINT [IF EXISTS] c | ALTER [COLUMN] c {SET|DROP} NOT NULL | ... SET DEFAULT expr
      | ... DROP DEFAULT | ... [SET DATA] TYPE type [USING expr] | RENAME [COLUMN] a TO b
      | RENAME CONSTRAINT a TO b | RENAME TO t2
  CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON [ONLY] t [USING m] (elems)
      [INCLUDE (cols)] [NULLS [NOT] DISTINCT] [WITH (..)] [WHERE pred]        -> an annotation
  DROP TABLE / DROP INDEX [CONCURRENTLY] [IF EXISTS] names [CASCADE|RESTRICT]
  CREATE TYPE t AS ENUM (..), CREATE SEQUENCE, COMMENT ON TABLE/COLUMN .. IS '..'   -> recorded
  CREATE [OR REPLACE] TRIGGER .. ON t ..                                     -> a table annotation
  CREATE [OR REPLACE] FUNCTION/PROCEDURE, CREATE EXTENSION                   -> recorded by name
  INSERT / UPDATE / DELETE (data, not structure)                             -> skipped

Everything else (CREATE VIEW, DO blocks, EXCLUDE constraints, PARTITION BY, INHERITS,
schema-qualified table names, ...) raises `DdlError` naming the file and line.
Tables are unqualified: the schema is the service's (search_path), as the chassis applies them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

__all__ = [
    "Column", "DdlError", "ForeignKey", "Index", "Schema", "Table", "apply_migrations", "parse_schema", "tokenize",
]


class DdlError(ValueError):
    """A statement the parser does not understand or that is invalid (file:line in the message)."""


# --- model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    default: str | None = None
    generated: str | None = None  # "stored: <expr>" or "identity"
    collation: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]  # empty until resolved to the target's primary key
    on_delete: str | None = None
    on_update: str | None = None
    deferrable: str | None = None  # "deferrable initially deferred" ...


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    elements: tuple[str, ...]
    unique: bool = False
    method: str | None = None
    where: str | None = None
    include: tuple[str, ...] = ()


@dataclass
class Table:
    name: str
    columns: list[Column] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    primary_key_name: str | None = None
    uniques: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)   # (constraint name, columns)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[tuple[str, str]] = field(default_factory=list)                # (constraint name, expression)
    indexes: list[Index] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)
    comment: str | None = None
    column_comments: dict[str, str] = field(default_factory=dict)
    origin: str = "service"  # "chassis" for the chassis tables

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def constraint_names(self) -> set[str]:
        names = {n for n, _ in self.uniques} | {f.name for f in self.foreign_keys} | {n for n, _ in self.checks}
        if self.primary_key_name:
            names.add(self.primary_key_name)
        return names


@dataclass
class Schema:
    """The result of applying a service's migrations in order."""

    tables: dict[str, Table] = field(default_factory=dict)
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sequences: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    index_owner: dict[str, str] = field(default_factory=dict)  # index name -> table


# --- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tok:
    kind: str   # word | qident | string | number | op | dollar
    value: str  # words lower-cased; quoted identifiers unescaped; strings unescaped
    line: int
    raw: str

    def kw(self, *words: str) -> bool:
        return self.kind == "word" and self.value in words


_WORD = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*")
_NUMBER = re.compile(r"(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_OPS = ("::", "<=", ">=", "<>", "!=", "||", "->>", "->", "#>>", "#>", "@>", "<@", "=>")
_OP_CHARS = set("+-*/<>=~!@#%^&|`?")


def tokenize(sql: str, *, file: str = "<sql>") -> list[Tok]:
    """Tokens of `sql` without comments or whitespace. Raises DdlError on an unterminated string/comment."""
    out: list[Tok] = []
    i, n, line = 0, len(sql), 1
    while i < n:
        ch = sql[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif sql.startswith("/*", i):
            depth, j, start = 1, i + 2, line
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    line += sql[j] == "\n"
                    j += 1
            if depth:
                raise DdlError(f"{file}:{start}: unterminated /* comment")
            i = j
        elif ch == "'" or (ch in "eE" and sql.startswith("'", i + 1)):
            escape = ch != "'"
            j = i + (2 if escape else 1)
            start, buf = line, []
            while True:
                if j >= n:
                    raise DdlError(f"{file}:{start}: unterminated string literal")
                c = sql[j]
                if c == "'" and sql.startswith("''", j):
                    buf.append("'")
                    j += 2
                elif c == "'":
                    j += 1
                    break
                elif escape and c == "\\" and j + 1 < n:
                    buf.append(sql[j + 1])
                    j += 2
                else:
                    line += c == "\n"
                    buf.append(c)
                    j += 1
            out.append(Tok("string", "".join(buf), start, sql[i:j]))
            i = j
        elif ch == '"':
            j, start, buf = i + 1, line, []
            while True:
                if j >= n:
                    raise DdlError(f"{file}:{start}: unterminated quoted identifier")
                if sql.startswith('""', j):
                    buf.append('"')
                    j += 2
                elif sql[j] == '"':
                    j += 1
                    break
                else:
                    buf.append(sql[j])
                    j += 1
            if not buf:
                raise DdlError(f"{file}:{start}: empty quoted identifier")
            out.append(Tok("qident", "".join(buf), start, sql[i:j]))
            i = j
        elif ch == "$" and (m := _DOLLAR_TAG.match(sql, i)):
            tag = m.group(0)
            end = sql.find(tag, m.end())
            if end < 0:
                raise DdlError(f"{file}:{line}: unterminated dollar-quoted string {tag}")
            body = sql[m.end():end]
            out.append(Tok("dollar", body, line, sql[i:end + len(tag)]))
            line += body.count("\n")
            i = end + len(tag)
        elif m := _WORD.match(sql, i):
            word = m.group(0)
            out.append(Tok("word", word.lower(), line, word))
            i = m.end()
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = _NUMBER.match(sql, i)
            out.append(Tok("number", m.group(0), line, m.group(0)))
            i = m.end()
        elif ch in "(),;.[]":
            out.append(Tok("op", ch, line, ch))
            i += 1
        elif ch == "$" and i + 1 < n and sql[i + 1].isdigit():
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            out.append(Tok("op", sql[i:j], line, sql[i:j]))
            i = j
        elif ch in _OP_CHARS or ch == ":":
            op = next((o for o in _OPS if sql.startswith(o, i)), None)
            if op is None:
                j = i
                while j < n and sql[j] in _OP_CHARS:
                    j += 1
                op = sql[i:max(j, i + 1)]
            out.append(Tok("op", op, line, op))
            i += len(op)
        else:
            raise DdlError(f"{file}:{line}: unexpected character {ch!r}")
    return out


def split_statements(tokens: Sequence[Tok]) -> list[list[Tok]]:
    """Statements separated by top-level `;` (strings and dollar bodies are single tokens already)."""
    statements, current = [], []
    for tok in tokens:
        if tok.kind == "op" and tok.value == ";":
            if current:
                statements.append(current)
            current = []
        else:
            current.append(tok)
    if current:
        statements.append(current)
    return statements


def render_tokens(tokens: Iterable[Tok]) -> str:
    """Tokens back to compact, canonical SQL text (deterministic; used for defaults, checks, predicates)."""
    parts: list[str] = []
    prev: Tok | None = None
    for tok in tokens:
        text = _canonical(tok)
        if prev is not None and _space_between(prev, tok):
            parts.append(" ")
        parts.append(text)
        prev = tok
    return "".join(parts)


def _canonical(tok: Tok) -> str:
    if tok.kind == "word":
        return tok.value
    if tok.kind == "qident":
        return '"' + tok.value.replace('"', '""') + '"'
    if tok.kind == "string":
        return "'" + tok.value.replace("'", "''") + "'"
    return tok.raw


def _space_between(prev: Tok, tok: Tok) -> bool:
    if tok.kind == "op" and tok.value in (")", ",", "::", ".", "[", "]"):
        return False
    if prev.kind == "op" and prev.value in ("(", "::", ".", "["):
        return False
    if tok.kind == "op" and tok.value == "(" and prev.kind in ("word", "qident") and prev.value not in _SPACED:
        return False  # function call / type modifier: now(), varchar(20)
    return True


# Keywords a parenthesis after which is not a call: `x in (...)`, `a and (...)`.
_SPACED = {
    "all", "and", "any", "as", "between", "check", "default", "distinct", "else", "exists", "filter", "in",
    "include", "is", "key", "not", "on", "or", "over", "primary", "references", "some", "then", "unique",
    "using", "values", "when", "where", "with",
}


# --- the parser -------------------------------------------------------------------------------


_COLUMN_CONSTRAINT_START = {
    "constraint", "not", "null", "default", "primary", "unique", "references", "check", "collate", "generated",
}
_TABLE_CONSTRAINT_START = {"constraint", "primary", "unique", "foreign", "check", "exclude"}
_FK_ACTIONS = {"cascade", "restrict"}


class _Cursor:
    def __init__(self, tokens: Sequence[Tok], file: str) -> None:
        self.toks = tokens
        self.i = 0
        self.file = file

    # position and errors
    def at_end(self) -> bool:
        return self.i >= len(self.toks)

    def peek(self, ahead: int = 0) -> Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def line(self) -> int:
        tok = self.peek() or (self.toks[-1] if self.toks else None)
        return tok.line if tok else 0

    def error(self, message: str) -> DdlError:
        near = self.peek()
        where = f" near {near.raw!r}" if near else " at the end of the statement"
        return DdlError(f"{self.file}:{self.line()}: {message}{where}")

    # matching
    def is_kw(self, *words: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok is not None and tok.kw(*words)

    def is_op(self, op: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok is not None and tok.kind == "op" and tok.value == op

    def accept(self, *words: str) -> bool:
        """Consume the keyword sequence `words` if it is next."""
        if all(self.is_kw(w, ahead=k) for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise self.error(f"expected {' '.join(w.upper() for w in words)}")

    def accept_op(self, op: str) -> bool:
        if self.is_op(op):
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            raise self.error(f"expected {op!r}")

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of statement")
        self.i += 1
        return tok

    def ident(self, what: str = "an identifier") -> str:
        tok = self.peek()
        if tok is None or tok.kind not in ("word", "qident"):
            raise self.error(f"expected {what}")
        self.i += 1
        return tok.value

    def table_name(self) -> str:
        name = self.ident("a table name")
        if self.is_op("."):
            raise self.error(
                f"schema-qualified name {name}.{self.peek(1).value if self.peek(1) else ''} "
                "(migrations use unqualified names; the schema is the service's)")
        return name

    def ident_list(self) -> tuple[str, ...]:
        self.expect_op("(")
        names = [self.ident("a column name")]
        while self.accept_op(","):
            names.append(self.ident("a column name"))
        self.expect_op(")")
        return tuple(names)

    def balanced(self) -> list[Tok]:
        """A parenthesised group, returned without its outer parentheses."""
        self.expect_op("(")
        depth, start = 1, self.i
        while depth:
            tok = self.next()
            if tok.kind == "op" and tok.value in ("(", "["):
                depth += 1
            elif tok.kind == "op" and tok.value in (")", "]"):
                depth -= 1
        return list(self.toks[start:self.i - 1])

    def until(self, stop_words: set[str], stop_ops: set[str]) -> list[Tok]:
        """Tokens up to (not including) a stop keyword/op at parenthesis depth 0."""
        out, depth = [], 0
        while not self.at_end():
            tok = self.peek()
            if depth == 0 and ((tok.kind == "word" and tok.value in stop_words) or
                               (tok.kind == "op" and tok.value in stop_ops)):
                break
            if tok.kind == "op" and tok.value in ("(", "["):
                depth += 1
            elif tok.kind == "op" and tok.value in (")", "]"):
                if depth == 0:
                    break
                depth -= 1
            out.append(tok)
            self.i += 1
        return out


_NAME = r'(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)'
_TYPE = re.compile(
    r"^(?:"
    r"double precision"
    r"|(?:character|char|bit|national character) varying(?:\(\d+\))?"
    r"|(?:timestamp|time)(?:\(\d+\))? with(?:out)? time zone"
    r"|interval(?: (?:year|month|day|hour|minute|second)(?: to (?:month|hour|minute|second))?)?(?:\(\d+\))?"
    rf"|{_NAME}(?:\.{_NAME})?(?:\([^()]*\))?"
    r")(?:\[\d*\])*$"
)


def _type_text(tokens: Sequence[Tok], c: _Cursor, column: str) -> str:
    """The type as canonical text; anything but a (possibly multi-word) type name fails."""
    text = re.sub(r"\s*\[\s*", "[", render_tokens(tokens)).replace(" ]", "]")
    if not _TYPE.match(text):
        raise DdlError(f"{c.file}:{tokens[0].line}: unsupported type or clause {text!r} in column {column}")
    return text


@dataclass
class _ColumnSpec:
    column: Column
    primary_key: str | None = None     # constraint name when PRIMARY KEY
    unique: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[tuple[str, str]] = field(default_factory=list)


def _default_name(table: str, columns: Sequence[str], suffix: str) -> str:
    """Postgres's default constraint/index name: <table>_<col>[_<col>...]_<suffix> (63 byte limit ignored)."""
    return "_".join([table, *columns, suffix]) if columns else f"{table}_{suffix}"


class _Parser:
    def __init__(self, schema: Schema, file: str, origin: str) -> None:
        self.schema = schema
        self.file = file
        self.origin = origin

    # entry point
    def statement(self, tokens: list[Tok]) -> None:
        c = _Cursor(tokens, self.file)
        first = c.peek()
        if first.kw("create"):
            c.next()
            c.accept("or", "replace")
            if c.accept("unlogged") or c.is_kw("table"):
                c.expect("table")
                return self.create_table(c)
            if c.is_kw("unique", "index"):
                return self.create_index(c)
            if c.accept("type"):
                return self.create_type(c)
            if c.accept("sequence"):
                c.accept("if", "not", "exists")
                self.schema.sequences.append(c.table_name())
                return
            if c.accept("constraint", "trigger") or c.accept("trigger"):
                return self.create_trigger(c)
            if c.is_kw("function", "procedure"):
                c.next()
                self.schema.functions.append(c.table_name())
                return
            if c.accept("extension"):
                c.accept("if", "not", "exists")
                self.schema.extensions.append(c.ident("an extension name"))
                return
            raise c.error("unsupported statement CREATE " + " ".join(t.raw.upper() for t in tokens[1:3]))
        if first.kw("alter") and c.is_kw("table", ahead=1):
            c.i += 2
            return self.alter_table(c)
        if first.kw("drop") and c.is_kw("table", "index", ahead=1):
            c.next()
            return self.drop(c)
        if first.kw("comment") and c.is_kw("on", ahead=1):
            c.i += 2
            return self.comment(c)
        if first.kw("insert", "update", "delete"):
            return  # data, not structure
        raise c.error(f"unsupported statement {' '.join(t.raw.upper() for t in tokens[:2])}")

    # CREATE TABLE
    def create_table(self, c: _Cursor) -> None:
        if_not_exists = c.accept("if", "not", "exists")
        name = c.table_name()
        if name in self.schema.tables:
            if if_not_exists:
                return
            raise DdlError(f"{self.file}:{c.line()}: table {name} already exists")
        if c.is_kw("of", "partition"):
            raise c.error("unsupported CREATE TABLE form")
        table = Table(name=name, origin=self.origin)
        c.expect_op("(")
        if not c.is_op(")"):
            while True:
                if c.is_kw(*_TABLE_CONSTRAINT_START) and not self._is_column_named_like_keyword(c):
                    self.table_constraint(c, table)
                elif c.is_kw("like"):
                    raise c.error("unsupported LIKE clause")
                else:
                    self.add_column(c, table, self.column(c, table.name))
                if c.accept_op(","):
                    continue
                break
        c.expect_op(")")
        if not c.at_end():
            raise c.error("unsupported clause after the column list (INHERITS, PARTITION BY, WITH, ... )")
        self.schema.tables[name] = table

    @staticmethod
    def _is_column_named_like_keyword(c: _Cursor) -> bool:
        # `check text`, `unique boolean`: a column whose name is a constraint keyword is followed by a type.
        nxt = c.peek(1)
        if c.is_kw("constraint"):
            return False
        if c.is_kw("primary"):
            return not c.is_kw("key", ahead=1)
        if c.is_kw("foreign"):
            return not c.is_kw("key", ahead=1)
        if c.is_kw("check", "exclude"):
            return not c.is_op("(", ahead=1) and not c.is_kw("using", ahead=1)
        if c.is_kw("unique"):
            return nxt is not None and nxt.kind in ("word", "qident") and not nxt.kw("nulls")
        return False

    def column(self, c: _Cursor, table: str) -> _ColumnSpec:
        name = c.ident("a column name")
        type_tokens = c.until(_COLUMN_CONSTRAINT_START, {",", ")"})
        if not type_tokens:
            raise c.error(f"column {name} has no type")
        col = Column(name=name, type=_type_text(type_tokens, c, name))
        spec = _ColumnSpec(column=col)
        while not c.at_end() and not c.is_op(",") and not c.is_op(")"):
            cname = c.ident("a constraint name") if c.accept("constraint") else None
            if c.accept("not", "null"):
                spec.column = replace(spec.column, nullable=False)
            elif c.accept("null"):
                spec.column = replace(spec.column, nullable=True)
            elif c.accept("default"):
                expr = c.until(_COLUMN_CONSTRAINT_START, {",", ")"})
                if not expr:
                    raise c.error(f"DEFAULT of column {name} has no expression")
                spec.column = replace(spec.column, default=render_tokens(expr))
            elif c.accept("primary", "key"):
                spec.primary_key = cname or _default_name(table, (), "pkey")
                spec.column = replace(spec.column, nullable=False)
            elif c.accept("unique"):
                if c.accept("nulls"):
                    c.accept("not")
                    c.expect("distinct")
                spec.unique.append(cname or _default_name(table, (name,), "key"))
            elif c.accept("references"):
                ref_table, ref_cols, actions = self.references(c)
                if ref_cols and len(ref_cols) != 1:
                    raise c.error(f"column {name} REFERENCES {ref_table} with {len(ref_cols)} columns")
                spec.foreign_keys.append(ForeignKey(cname or _default_name(table, (name,), "fkey"), (name,),
                                                    ref_table, ref_cols, **actions))
            elif c.accept("check"):
                expr = render_tokens(c.balanced())
                c.accept("no", "inherit")
                spec.checks.append((cname or _default_name(table, (name,), "check"), expr))
            elif c.accept("collate"):
                spec.column = replace(spec.column, collation=c.ident("a collation"))
            elif c.accept("generated"):
                if c.accept("always", "as", "identity") or c.accept("by", "default", "as", "identity"):
                    if c.is_op("("):
                        c.balanced()
                    spec.column = replace(spec.column, generated="identity", nullable=False)
                elif c.accept("always", "as"):
                    expr = render_tokens(c.balanced())
                    c.expect("stored")
                    spec.column = replace(spec.column, generated=f"stored: {expr}")
                else:
                    raise c.error("unsupported GENERATED clause")
            elif _deferrability(c) is not None:
                pass  # [NOT] DEFERRABLE / INITIALLY .. of the preceding PRIMARY KEY / UNIQUE
            elif cname is not None:
                raise c.error(f"unsupported constraint {cname}")
            else:
                raise c.error(f"unsupported clause in the definition of column {name}")
        return spec

    def references(self, c: _Cursor) -> tuple[str, tuple[str, ...], dict]:
        ref_table = c.table_name()
        ref_cols = c.ident_list() if c.is_op("(") else ()
        actions: dict[str, str | None] = {}
        while True:
            if c.accept("match"):
                c.ident("FULL, PARTIAL or SIMPLE")
            elif c.accept("on", "delete"):
                actions["on_delete"] = self._fk_action(c)
            elif c.accept("on", "update"):
                actions["on_update"] = self._fk_action(c)
            elif (timing := _deferrability(c)) is not None:
                actions["deferrable"] = timing
            else:
                return ref_table, ref_cols, actions

    def _fk_action(self, c: _Cursor) -> str:
        if c.accept("set", "null"):
            return "set null"
        if c.accept("set", "default"):
            return "set default"
        if c.accept("no", "action"):
            return "no action"
        tok = c.next()
        if not tok.kw(*_FK_ACTIONS):
            c.i -= 1
            raise c.error("expected CASCADE, RESTRICT, SET NULL, SET DEFAULT or NO ACTION")
        return tok.value

    def table_constraint(self, c: _Cursor, table: Table) -> None:
        cname = c.ident("a constraint name") if c.accept("constraint") else None
        if c.accept("primary", "key"):
            cols = c.ident_list()
            self._set_primary_key(c, table, cols, cname or _default_name(table.name, (), "pkey"))
            self._constraint_tail(c)
        elif c.accept("unique"):
            if c.accept("nulls"):
                c.accept("not")
                c.expect("distinct")
            cols = c.ident_list()
            self._check_columns(c, table, cols)
            table.uniques.append((cname or _unique_name(table, _default_name(table.name, cols, "key")), cols))
            self._constraint_tail(c)
        elif c.accept("foreign", "key"):
            cols = c.ident_list()
            self._check_columns(c, table, cols)
            c.expect("references")
            ref_table, ref_cols, actions = self.references(c)
            if ref_cols and len(ref_cols) != len(cols):
                raise c.error(f"FOREIGN KEY ({', '.join(cols)}) has {len(ref_cols)} referenced columns")
            table.foreign_keys.append(ForeignKey(cname or _unique_name(table, _default_name(table.name, cols, "fkey")),
                                                 cols, ref_table, ref_cols, **actions))
            self._constraint_tail(c)
        elif c.accept("check"):
            expr = render_tokens(c.balanced())
            c.accept("no", "inherit")
            table.checks.append((cname or _unique_name(table, _default_name(table.name, (), "check")), expr))
            self._constraint_tail(c)
        elif c.is_kw("exclude"):
            raise c.error("unsupported EXCLUDE constraint")
        else:
            raise c.error("expected PRIMARY KEY, UNIQUE, FOREIGN KEY or CHECK")

    def _constraint_tail(self, c: _Cursor) -> None:
        _deferrability(c)
        c.accept("not", "valid")

    def _check_columns(self, c: _Cursor, table: Table, cols: Sequence[str]) -> None:
        missing = [col for col in cols if table.column(col) is None]
        if missing:
            raise DdlError(f"{self.file}:{c.line()}: table {table.name} has no column {', '.join(missing)}")

    def _set_primary_key(self, c: _Cursor, table: Table, cols: tuple[str, ...], name: str) -> None:
        if table.primary_key:
            raise DdlError(f"{self.file}:{c.line()}: table {table.name} has more than one primary key")
        self._check_columns(c, table, cols)
        table.primary_key, table.primary_key_name = cols, name
        table.columns = [replace(col, nullable=False) if col.name in cols else col for col in table.columns]

    def add_column(self, c: _Cursor, table: Table, spec: _ColumnSpec) -> None:
        if table.column(spec.column.name) is not None:
            raise DdlError(f"{self.file}:{c.line()}: column {spec.column.name} of {table.name} is defined twice")
        table.columns.append(spec.column)
        if spec.primary_key:
            self._set_primary_key(c, table, (spec.column.name,), spec.primary_key)
        for name in spec.unique:
            table.uniques.append((name, (spec.column.name,)))
        table.foreign_keys.extend(spec.foreign_keys)
        table.checks.extend(spec.checks)

    # ALTER TABLE
    def alter_table(self, c: _Cursor) -> None:
        if_exists = c.accept("if", "exists")
        c.accept("only")
        name = c.table_name()
        c.accept_op("*")
        table = self.schema.tables.get(name)
        if table is None:
            if if_exists:
                return
            raise DdlError(f"{self.file}:{c.line()}: ALTER TABLE of unknown table {name}")
        if c.accept("rename", "to"):
            new = c.table_name()
            self._rename_table(c, table, new)
            return
        while True:
            self.alter_action(c, table)
            if not c.accept_op(","):
                break
        if not c.at_end():
            raise c.error("unsupported ALTER TABLE clause")

    def _rename_table(self, c: _Cursor, table: Table, new: str) -> None:
        if new in self.schema.tables:
            raise DdlError(f"{self.file}:{c.line()}: cannot rename {table.name} to {new}: it exists")
        old = table.name
        del self.schema.tables[old]
        table.name = new
        table.indexes = [replace(i, table=new) for i in table.indexes]
        self.schema.tables[new] = table
        for other in self.schema.tables.values():
            other.foreign_keys = [replace(f, ref_table=new) if f.ref_table == old else f for f in other.foreign_keys]
        self.schema.index_owner = {k: (new if v == old else v) for k, v in self.schema.index_owner.items()}

    def alter_action(self, c: _Cursor, table: Table) -> None:
        if c.accept("add"):
            if c.is_kw(*_TABLE_CONSTRAINT_START) and not c.is_kw("column") and not self._is_column_named_like_keyword(c):
                return self.table_constraint(c, table)
            c.accept("column")
            if c.accept("if", "not", "exists"):
                name = c.peek().value if c.peek() else ""
                if table.column(name) is not None:
                    self.column(c, table.name)  # parse and drop it: Postgres skips it with a notice
                    return
            spec = self.column(c, table.name)
            return self.add_column(c, table, spec)
        if c.accept("drop"):
            if c.accept("constraint"):
                if_exists = c.accept("if", "exists")
                name = c.ident("a constraint name")
                c.accept("cascade") or c.accept("restrict")
                return self._drop_constraint(c, table, name, if_exists)
            c.accept("column")
            if_exists = c.accept("if", "exists")
            name = c.ident("a column name")
            c.accept("cascade") or c.accept("restrict")
            return self._drop_column(c, table, name, if_exists)
        if c.accept("alter"):
            c.accept("column")
            name = c.ident("a column name")
            col = table.column(name)
            if col is None:
                raise DdlError(f"{self.file}:{c.line()}: table {table.name} has no column {name}")
            if c.accept("set", "not", "null"):
                col = replace(col, nullable=False)
            elif c.accept("drop", "not", "null"):
                if name in table.primary_key:
                    raise DdlError(f"{self.file}:{c.line()}: column {name} is in the primary key of {table.name}")
                col = replace(col, nullable=True)
            elif c.accept("set", "default"):
                expr = c.until(set(), {","})
                if not expr:
                    raise c.error("SET DEFAULT without an expression")
                col = replace(col, default=render_tokens(expr))
            elif c.accept("drop", "default"):
                col = replace(col, default=None)
            elif c.accept("set", "data", "type") or c.accept("type"):
                type_tokens = c.until({"using", "collate"}, {","})
                if not type_tokens:
                    raise c.error("TYPE without a type")
                if c.accept("collate"):
                    col = replace(col, collation=c.ident("a collation"))
                if c.accept("using"):
                    c.until(set(), {","})
                col = replace(col, type=_type_text(type_tokens, c, name))
            else:
                raise c.error(f"unsupported ALTER COLUMN {name} action")
            table.columns = [col if x.name == name else x for x in table.columns]
            return
        if c.accept("rename", "constraint"):
            old = c.ident("a constraint name")
            c.expect("to")
            new = c.ident("a constraint name")
            return self._rename_constraint(c, table, old, new)
        if c.accept("rename"):
            c.accept("column")
            old = c.ident("a column name")
            c.expect("to")
            new = c.ident("a column name")
            return self._rename_column(c, table, old, new)
        raise c.error("unsupported ALTER TABLE action")

    def _drop_constraint(self, c: _Cursor, table: Table, name: str, if_exists: bool) -> None:
        if name not in table.constraint_names():
            if if_exists:
                return
            raise DdlError(f"{self.file}:{c.line()}: table {table.name} has no constraint {name}")
        if table.primary_key_name == name:
            table.primary_key, table.primary_key_name = (), None
        table.uniques = [u for u in table.uniques if u[0] != name]
        table.foreign_keys = [f for f in table.foreign_keys if f.name != name]
        table.checks = [k for k in table.checks if k[0] != name]

    def _drop_column(self, c: _Cursor, table: Table, name: str, if_exists: bool) -> None:
        if table.column(name) is None:
            if if_exists:
                return
            raise DdlError(f"{self.file}:{c.line()}: table {table.name} has no column {name}")
        table.columns = [col for col in table.columns if col.name != name]
        # Postgres drops the constraints and indexes that use the column.
        if name in table.primary_key:
            table.primary_key, table.primary_key_name = (), None
        table.uniques = [u for u in table.uniques if name not in u[1]]
        table.foreign_keys = [f for f in table.foreign_keys if name not in f.columns]
        table.checks = [k for k in table.checks if not re.search(rf"(?<![\w\"]){re.escape(name)}(?![\w\"])", k[1])]
        dropped = {i.name for i in table.indexes if any(_mentions(e, name) for e in i.elements)}
        table.indexes = [i for i in table.indexes if i.name not in dropped]
        for index in dropped:
            self.schema.index_owner.pop(index, None)
        table.column_comments.pop(name, None)

    def _rename_column(self, c: _Cursor, table: Table, old: str, new: str) -> None:
        if table.column(old) is None:
            raise DdlError(f"{self.file}:{c.line()}: table {table.name} has no column {old}")
        if table.column(new) is not None:
            raise DdlError(f"{self.file}:{c.line()}: table {table.name} already has a column {new}")

        def ren(cols: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(new if x == old else x for x in cols)

        table.columns = [replace(col, name=new) if col.name == old else col for col in table.columns]
        table.primary_key = ren(table.primary_key)
        table.uniques = [(n, ren(cols)) for n, cols in table.uniques]
        table.foreign_keys = [replace(f, columns=ren(f.columns)) for f in table.foreign_keys]
        table.indexes = [replace(i, elements=tuple(new if e == old else e for e in i.elements)) for i in table.indexes]
        if old in table.column_comments:
            table.column_comments[new] = table.column_comments.pop(old)
        for other in self.schema.tables.values():
            other.foreign_keys = [replace(f, ref_columns=ren(f.ref_columns)) if f.ref_table == table.name else f
                                  for f in other.foreign_keys]

    def _rename_constraint(self, c: _Cursor, table: Table, old: str, new: str) -> None:
        if old not in table.constraint_names():
            raise DdlError(f"{self.file}:{c.line()}: table {table.name} has no constraint {old}")
        if table.primary_key_name == old:
            table.primary_key_name = new
        table.uniques = [(new if n == old else n, cols) for n, cols in table.uniques]
        table.foreign_keys = [replace(f, name=new) if f.name == old else f for f in table.foreign_keys]
        table.checks = [(new if n == old else n, e) for n, e in table.checks]

    # CREATE INDEX
    def create_index(self, c: _Cursor) -> None:
        unique = c.accept("unique")
        c.expect("index")
        c.accept("concurrently")
        if_not_exists = c.accept("if", "not", "exists")
        name = None if c.is_kw("on") else c.table_name()
        c.expect("on")
        c.accept("only")
        table_name = c.table_name()
        table = self.schema.tables.get(table_name)
        if table is None:
            raise DdlError(f"{self.file}:{c.line()}: CREATE INDEX on unknown table {table_name}")
        method = c.ident("an index method") if c.accept("using") else None
        body = c.balanced()
        elements = tuple(render_tokens(e) for e in _split_commas(body))
        include = c.ident_list() if c.accept("include") else ()
        if c.accept("nulls"):
            c.accept("not")
            c.expect("distinct")
        if c.accept("with"):
            c.balanced()
        if c.accept("tablespace"):
            c.ident("a tablespace")
        where = render_tokens(c.until(set(), set())) if c.accept("where") else None
        if not c.at_end():
            raise c.error("unsupported CREATE INDEX clause")
        if name is None:
            first = re.sub(r"\W+", "_", elements[0]).strip("_") if elements else "expr"
            name = _default_name(table_name, (first,), "idx")
        if name in self.schema.index_owner or name in self.schema.tables:
            if if_not_exists:
                return
            raise DdlError(f"{self.file}:{c.line()}: relation {name} already exists")
        table.indexes.append(Index(name=name, table=table_name, elements=elements, unique=unique, method=method,
                                   where=where, include=include))
        self.schema.index_owner[name] = table_name

    # DROP TABLE / INDEX
    def drop(self, c: _Cursor) -> None:
        what = c.next().value
        c.accept("concurrently")
        if_exists = c.accept("if", "exists")
        names = [c.table_name()]
        while c.accept_op(","):
            names.append(c.table_name())
        c.accept("cascade") or c.accept("restrict")
        if not c.at_end():
            raise c.error(f"unsupported DROP {what.upper()} clause")
        for name in names:
            if what == "table":
                if name not in self.schema.tables:
                    if if_exists:
                        continue
                    raise DdlError(f"{self.file}:{c.line()}: DROP TABLE of unknown table {name}")
                del self.schema.tables[name]
                for index in [k for k, v in self.schema.index_owner.items() if v == name]:
                    del self.schema.index_owner[index]
            else:
                owner = self.schema.index_owner.pop(name, None)
                if owner is None:
                    if if_exists:
                        continue
                    raise DdlError(f"{self.file}:{c.line()}: DROP INDEX of unknown index {name}")
                table = self.schema.tables[owner]
                table.indexes = [i for i in table.indexes if i.name != name]

    # CREATE TYPE / TRIGGER, COMMENT ON
    def create_type(self, c: _Cursor) -> None:
        name = c.table_name()
        c.expect("as")
        if not c.accept("enum"):
            raise c.error("unsupported CREATE TYPE (only AS ENUM)")
        body = c.balanced()
        labels = tuple(t.value for t in body if t.kind == "string")
        self.schema.enums[name] = labels

    def create_trigger(self, c: _Cursor) -> None:
        name = c.ident("a trigger name")
        c.until({"on"}, set())
        c.expect("on")
        table_name = c.table_name()
        table = self.schema.tables.get(table_name)
        if table is None:
            raise DdlError(f"{self.file}:{c.line()}: CREATE TRIGGER on unknown table {table_name}")
        table.triggers.append(name)

    def comment(self, c: _Cursor) -> None:
        if c.accept("table"):
            table = self._known_table(c, c.table_name())
            c.expect("is")
            table.comment = self._comment_text(c)
        elif c.accept("column"):
            table_name = c.ident("a table name")
            c.expect_op(".")
            column = c.ident("a column name")
            if c.is_op("."):
                raise c.error("schema-qualified name (migrations use unqualified names)")
            table = self._known_table(c, table_name)
            if table.column(column) is None:
                raise DdlError(f"{self.file}:{c.line()}: table {table_name} has no column {column}")
            c.expect("is")
            text = self._comment_text(c)
            if text is None:
                table.column_comments.pop(column, None)
            else:
                table.column_comments[column] = text
        else:
            c.next()
            c.until(set(), set())  # comments on other objects do not change the ERD

    def _known_table(self, c: _Cursor, name: str) -> Table:
        table = self.schema.tables.get(name)
        if table is None:
            raise DdlError(f"{self.file}:{c.line()}: unknown table {name}")
        return table

    @staticmethod
    def _comment_text(c: _Cursor) -> str | None:
        if c.accept("null"):
            return None
        tok = c.next()
        if tok.kind not in ("string", "dollar"):
            c.i -= 1
            raise c.error("expected a string")
        return tok.value


def _deferrability(c: _Cursor) -> str | None:
    """Consume `[NOT] DEFERRABLE [INITIALLY DEFERRED|IMMEDIATE]` or `INITIALLY ..`; None if not there."""
    words = []
    if c.accept("not", "deferrable"):
        words.append("not deferrable")
    elif c.accept("deferrable"):
        words.append("deferrable")
    if c.accept("initially"):
        timing = c.ident("DEFERRED or IMMEDIATE")
        if timing not in ("deferred", "immediate"):
            c.i -= 1
            raise c.error("expected DEFERRED or IMMEDIATE")
        words.append(f"initially {timing}")
    return " ".join(words) or None


def _unique_name(table: Table, base: str) -> str:
    """Postgres numbers a clashing default name: t_check, t_check1, t_check2 ..."""
    taken = table.constraint_names()
    if base not in taken:
        return base
    n = 1
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def _split_commas(tokens: Sequence[Tok]) -> list[list[Tok]]:
    parts, current, depth = [], [], 0
    for tok in tokens:
        if tok.kind == "op" and tok.value in ("(", "["):
            depth += 1
        elif tok.kind == "op" and tok.value in (")", "]"):
            depth -= 1
        if depth == 0 and tok.kind == "op" and tok.value == ",":
            parts.append(current)
            current = []
        else:
            current.append(tok)
    if current:
        parts.append(current)
    return parts


def _mentions(expression: str, column: str) -> bool:
    return re.search(rf"(?<![\w\"]){re.escape(column)}(?![\w\"])", expression) is not None


def _resolve_foreign_keys(schema: Schema, file: str) -> None:
    """REFERENCES t without columns means t's primary key; every target must exist with those columns."""
    for table in schema.tables.values():
        resolved = []
        for fk in table.foreign_keys:
            target = schema.tables.get(fk.ref_table)
            if target is None:
                raise DdlError(f"{file}: {table.name}.{fk.name} references unknown table {fk.ref_table}")
            ref_cols = fk.ref_columns or target.primary_key
            if not ref_cols:
                raise DdlError(f"{file}: {table.name}.{fk.name} references {fk.ref_table}, which has no primary key")
            if len(ref_cols) != len(fk.columns):
                raise DdlError(f"{file}: {table.name}.{fk.name} has {len(fk.columns)} columns but references "
                               f"{len(ref_cols)} of {fk.ref_table}")
            missing = [col for col in ref_cols if target.column(col) is None]
            if missing:
                raise DdlError(f"{file}: {table.name}.{fk.name} references missing column(s) "
                               f"{', '.join(missing)} of {fk.ref_table}")
            resolved.append(replace(fk, ref_columns=tuple(ref_cols)))
        table.foreign_keys = resolved


def apply_migrations(files: Iterable[tuple[str, str]], *, schema: Schema | None = None, origin: str = "service") -> Schema:
    """Apply `(file name, sql)` pairs in the given order to `schema` (new if None) and return it."""
    schema = schema if schema is not None else Schema()
    last = "<none>"
    for file, sql in files:
        last = file
        parser = _Parser(schema, file, origin)
        for statement in split_statements(tokenize(sql, file=file)):
            parser.statement(statement)
    _resolve_foreign_keys(schema, last)
    return schema


def parse_schema(sql: str, *, file: str = "<sql>") -> Schema:
    """One SQL text as a schema (convenience for tests and tools)."""
    return apply_migrations([(file, sql)])
