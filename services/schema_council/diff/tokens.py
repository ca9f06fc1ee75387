"""The token stream the hand-written GraphQL SDL and protobuf parsers read from."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from services.schema_council.diff.model import DiffError


@dataclass
class Tok:
    kind: str
    text: str
    line: int


def tokenize(text: str, pattern: re.Pattern[str], *, language: str, skip: frozenset[str],
             check: Callable[[str, str], str | None] = lambda kind, text: None) -> list[Tok]:
    """Tokens of `text` by the named groups of `pattern`, with line numbers; `skip` kinds
    (whitespace, comments) are dropped; `check` may name a problem with a token."""
    toks: list[Tok] = []
    pos, line = 0, 1
    while pos < len(text):
        m = pattern.match(text, pos)
        if m is None:
            raise DiffError(f"{language} line {line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        problem = check(kind, m.group())
        if problem:
            raise DiffError(f"{language} line {line}: {problem}")
        if kind not in skip:
            toks.append(Tok(kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    return toks


class TokenCursor:
    """A position in a token list, with errors that name the line (or the end of the input)."""

    language = ""
    end = "end of input"                       # how errors name the end of the input
    keyword_kinds: frozenset[str] | None = None  # kinds `at`/`accept`/`expect` match; None: any

    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self, offset: int = 0) -> Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def error(self, message: str) -> DiffError:
        tok = self.peek()
        return DiffError(f"{self.language} {f'line {tok.line}' if tok else self.end}: {message}")

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise self.error(f"unexpected {self.end}")
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.text == text and (self.keyword_kinds is None or tok.kind in self.keyword_kinds)

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> Tok:
        tok = self.peek()
        if not self.accept(text):
            raise self.error(f"expected {text!r}, found {tok.text if tok else self.end!r}")
        return tok

    def word(self, kind: str, what: str) -> str:
        """The next token's text, which must be of `kind` (an identifier)."""
        tok = self.peek()
        if tok is None or tok.kind != kind:
            raise self.error(f"expected {what}, found {tok.text if tok else self.end!r}")
        self.i += 1
        return tok.text
