"""The one adapter interface every learning provider implements, and the pure helpers adapters
share: decoding an export, reading CSV or JSON into rows keyed by canonical field names
(header names and JSON keys matched through aliases), and collecting row-level problems.

An adapter turns a provider's export into exactly one `ParsedRow` per source row:
`Completion` / `Credential` / `Progress` (something to import), `Skipped` (valid, nothing to
import, with the reason) or `RowError` (invalid, with every problem found). No I/O.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from services.upskilling_connector.domain import (
    ExportRejected,
    FieldError,
    Issue,
    ParsedRow,
    RowError,
    Where,
    clean,
    key,
)
from summit_common import imports

FORMATS = ("csv", "json")
T = TypeVar("T")


# --- the raw export -----------------------------------------------------------------------


@dataclass(frozen=True)
class RawExport:
    """An export as uploaded: its format ('csv' or 'json') and its text."""

    format: str
    text: str

    @classmethod
    def decode(cls, body: bytes, export_format: str) -> RawExport:
        if export_format not in FORMATS:
            raise ValueError(f"unknown export format {export_format!r}")
        text = imports.decode_utf8(body, what="the export")
        if not text.strip():
            raise ExportRejected("the export is empty")
        return cls(export_format, text)


@dataclass(frozen=True)
class Parsed:
    """What an adapter returns: one row per source row, plus what the report should mention."""

    rows: tuple[ParsedRow, ...]
    ignored_columns: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()


# --- reading tables -----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A canonical field and the header names / JSON keys that mean it (the first is its label)."""

    name: str
    aliases: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.aliases[0]


@dataclass(frozen=True)
class Layout:
    """How one export shape maps onto canonical fields."""

    columns: tuple[Column, ...]
    # CSV header check: each group needs at least one of its columns (("learner_id", "email"), ...).
    required: tuple[tuple[str, ...], ...] = ()
    delimiters: tuple[str, ...] = (",",)
    # JSON: an object at the top level holds the records under one of these keys.
    envelope_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("a layout names a canonical column twice")
        seen: dict[str, str] = {}
        for column in self.columns:
            for alias in column.aliases:
                other = seen.setdefault(key(alias), column.name)
                if other != column.name:
                    raise ValueError(f"alias {alias!r} means both {other!r} and {column.name!r}")
        for group in self.required:
            for name in group:
                if name not in names:
                    raise ValueError(f"required column {name!r} is not in the layout")

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def lookup(self) -> dict[str, str]:
        """Normalised alias -> canonical name."""
        return {key(alias): c.name for c in self.columns for alias in c.aliases}


@dataclass(frozen=True)
class SourceRow:
    where: Where
    values: Mapping[str, str | None]  # canonical -> cleaned value (None when empty or absent)
    labels: Mapping[str, str]  # canonical -> how this export names it (else the documented label)
    issues: tuple[Issue, ...] = ()  # problems found while reading the row itself
    bad: frozenset[str] = frozenset()  # canonical fields whose value could not be read

    @property
    def broken(self) -> bool:
        """The row as a whole is unreadable (wrong number of values, not a JSON object)."""
        return any(issue.field is None for issue in self.issues)


@dataclass(frozen=True)
class Table:
    rows: tuple[SourceRow, ...]
    present: frozenset[str]  # canonical columns the export has (CSV header / any JSON object)
    ignored_columns: tuple[str, ...] = ()
    envelope: Mapping[str, Any] = field(default_factory=dict)  # JSON: the top-level object minus the records


def read_table(raw: RawExport, layout: Layout) -> Table:
    return _read_csv(raw.text, layout) if raw.format == "csv" else _read_json(raw.text, layout)


def _read_csv(text: str, layout: Layout) -> Table:
    header, source_rows = imports.read_csv(text, delimiter=imports.sniff_delimiter(text, layout.delimiters))
    lookup = layout.lookup()
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        canonical = lookup.get(key(name))
        if canonical is None:
            if name.strip():
                ignored.append(name.strip())
            continue
        if canonical in positions:
            raise ExportRejected(
                f"columns {labels[canonical]!r} and {name.strip()!r} both mean {layout.column(canonical).label!r}"
            )
        positions[canonical] = index
        labels[canonical] = name.strip()
    _check_required(layout, set(positions))
    rows: list[SourceRow] = []
    for line, cells in source_rows:
        where = Where(line=line)
        all_labels = {c.name: labels.get(c.name, c.label) for c in layout.columns}
        if mismatch := imports.width_mismatch(cells, header):
            rows.append(SourceRow(where, {}, all_labels, (Issue(None, mismatch),)))
            continue
        values = {canonical: clean(cells[i]) for canonical, i in positions.items()}
        rows.append(SourceRow(where, values, all_labels))
    return Table(tuple(rows), frozenset(positions), tuple(ignored))


def _check_required(layout: Layout, present: set[str]) -> None:
    missing = [group for group in layout.required if not present & set(group)]
    if missing:
        described = [" or ".join(repr(layout.column(n).label) for n in group) for group in missing]
        raise ExportRejected(
            f"the export is missing required columns: {', '.join(described)}",
            missing_columns=[layout.column(group[0]).label for group in missing],
        )


def _read_json(text: str, layout: Layout) -> Table:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ExportRejected(f"the body is not valid JSON: {exc}") from None
    envelope: dict[str, Any] = {}
    if isinstance(document, dict):
        found = [k for k in document if k in layout.envelope_keys]
        if not found or not isinstance(document[found[0]], list):
            expected = " or ".join(repr(k) for k in layout.envelope_keys)
            raise ExportRejected(
                "expected a JSON array of records" + (f", or an object with the records under {expected}" if expected else "")
            )
        items = document[found[0]]
        envelope = {k: v for k, v in document.items() if k != found[0]}
    elif isinstance(document, list):
        items = document
    else:
        raise ExportRejected("expected a JSON array of records")
    lookup = layout.lookup()
    default_labels = {c.name: c.label for c in layout.columns}
    rows: list[SourceRow] = []
    present: set[str] = set()
    for index, item in enumerate(items):
        where = Where(index=index)
        if not isinstance(item, dict):
            rows.append(SourceRow(where, {}, default_labels, (Issue(None, "expected a JSON object"),)))
            continue
        values: dict[str, str | None] = {}
        labels = dict(default_labels)
        issues: list[Issue] = []
        bad: set[str] = set()
        for name, value in item.items():
            canonical = lookup.get(key(str(name)))
            if canonical is None:
                continue
            present.add(canonical)
            if values.get(canonical) is not None:
                continue  # two aliases of one field: the first with a value wins
            labels[canonical] = str(name)
            if isinstance(value, dict | list):
                issues.append(Issue(str(name), "must be a text or a number, not an object or a list"))
                bad.add(canonical)
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            values[canonical] = clean(value)
        rows.append(SourceRow(where, values, labels, tuple(issues), frozenset(bad)))
    return Table(tuple(rows), frozenset(present), (), envelope)


# --- reading one row ----------------------------------------------------------------------


class FieldReader:
    """Collects every problem of one row instead of stopping at the first. A row that is unreadable
    as a whole reports only that, not a missing value for every field."""

    def __init__(self, row: SourceRow) -> None:
        self.row = row
        self.issues: list[Issue] = list(row.issues)
        self.failed: set[str] = set(row.bad)

    def label(self, name: str) -> str:
        return self.row.labels.get(name, name)

    def has(self, name: str) -> bool:
        return self.row.values.get(name) is not None

    def raw(self, name: str) -> str | None:
        return self.row.values.get(name)

    def take(self, name: str, parse: Callable[[str], T], *, required: bool = False) -> T | None:
        value = self.row.values.get(name)
        if value is None:
            if required and name not in self.failed:
                self.fail(name, "a value is required")
            return None
        try:
            return parse(value)
        except FieldError as exc:
            self.fail(name, str(exc))
            return None

    def fail(self, name: str | None, reason: str) -> None:
        if name:
            self.failed.add(name)
        if not self.row.broken:
            self.issues.append(Issue(self.label(name) if name else None, reason))

    @property
    def ok(self) -> bool:
        return not self.issues

    def error(self) -> RowError:
        return RowError(tuple(self.issues), self.row.where)


# --- the adapter interface ----------------------------------------------------------------


class ProviderAdapter(ABC):
    """One learning provider's export formats. Register an instance as `ADAPTER` in a module
    listed in providers/__init__.py (PROVIDER_MODULES); nothing else changes to add a provider.

    Each parse_* method returns one ParsedRow per source row, in file order, or raises
    ExportRejected for a file-level problem (nothing is then stored)."""

    name: ClassVar[str]  # also the ExternalRef system of its participants: ^[a-z][a-z0-9_]{0,39}$
    title: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]  # of FORMATS, the ones this provider really exports
    description: ClassVar[str] = ""

    @abstractmethod
    def parse_completions(self, raw: RawExport) -> Parsed:
        """Course completions; in-progress records may become Progress rows."""

    @abstractmethod
    def parse_credentials(self, raw: RawExport) -> Parsed:
        """Certificates, badges and other credentials."""

    @abstractmethod
    def parse_progress(self, raw: RawExport) -> Parsed:
        """Progress snapshots (percent complete of a course at a time)."""

    def parse(self, kind: str, raw: RawExport) -> Parsed:
        if raw.format not in self.formats:
            raise UnsupportedFormat(self, raw.format)
        method = {"completions": self.parse_completions, "credentials": self.parse_credentials,
                  "progress": self.parse_progress}.get(kind)
        if method is None:
            raise ValueError(f"unknown import kind {kind!r}")
        parsed = method(raw)
        _check_one_row_per_source_row(parsed)
        return parsed


class UnsupportedFormat(ValueError):
    def __init__(self, adapter: ProviderAdapter, export_format: str) -> None:
        super().__init__(
            f"{adapter.title} exports are {' or '.join(f.upper() for f in adapter.formats)}, not {export_format.upper()}"
        )


def _check_one_row_per_source_row(parsed: Parsed) -> None:
    wheres = [r.where for r in parsed.rows]
    if len(set(wheres)) != len(wheres):
        raise ValueError("an adapter returned two results for one source row")
