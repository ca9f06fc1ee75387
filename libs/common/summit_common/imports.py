"""What the file-import services share: reading an uploaded CSV (UTF-8 with or without BOM,
delimiter sniffing, physical line numbers), the value checks and date-time rules every importer
applies, and the `GET /v1/imports/{id}` lookup of a stored import report.

All but `get_import_report` are pure (no I/O).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from summit_common import tenancy
from summit_common.sql import Where, identifier

if TYPE_CHECKING:
    from fastapi import Request

    from summit_common.auth import Principal

CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"})
CSV_DELIMITERS = (",", ";", "\t")
PLAUSIBLE_YEARS = (2000, 2100)


class ImportRejected(ValueError):
    """The input as a whole cannot be imported (nothing is stored)."""

    def __init__(self, reason: str, *, missing_columns: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.missing_columns = tuple(missing_columns)


class FieldError(ValueError):
    """One value cannot be used; the message says why, for a human."""


# --- CSV --------------------------------------------------------------------------------


def decode_utf8(body: bytes, *, what: str = "the CSV") -> str:
    """The text of an upload; a UTF-8 byte order mark is dropped."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected(f"{what} must be UTF-8 encoded (invalid byte at offset {exc.start})") from None


def sniff_delimiter(text: str, candidates: Sequence[str] = CSV_DELIMITERS) -> str:
    """The candidate that splits the header line most (ties and none: the first candidate).
    Spreadsheets in many European locales export with ';'."""
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    return max(candidates, key=lambda d: (header.count(d), -candidates.index(d)))


def read_csv(text: str, *, delimiter: str, what: str = "the CSV") -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header, and then (line, cells) for each non-blank row, where line is the physical line
    the row starts on (the header is line 1; quoted newlines count). An empty file or broken
    quoting raises ImportRejected (the latter while iterating)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    with _malformed(reader, what):
        header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise ImportRejected(f"{what} is empty: a header row is required")
    return header, _rows(reader, what)


def _rows(reader: Any, what: str) -> Iterator[tuple[int, list[str]]]:
    with _malformed(reader, what):
        seen_lines = reader.line_num
        for cells in reader:
            line = seen_lines + 1
            seen_lines = reader.line_num
            if any(cell.strip() for cell in cells):  # blank lines are not rows
                yield line, cells


@contextlib.contextmanager
def _malformed(reader: Any, what: str) -> Iterator[None]:
    try:
        yield
    except csv.Error as exc:
        raise ImportRejected(f"{what} is malformed near line {reader.line_num}: {exc}") from None


def width_mismatch(cells: Sequence[str], header: Sequence[str]) -> str | None:
    """Why a row cannot be read against the header, or None when it has one value per column."""
    if len(cells) == len(header):
        return None
    return f"the row has {len(cells)} values but the header has {len(header)} columns"


# --- values -----------------------------------------------------------------------------


def clean(value: Any) -> str | None:
    """Trim whitespace (including non-breaking spaces), NFC-normalise; empty becomes None."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).strip()
    return text or None


def lookup_key(value: str) -> str:
    """Key for matching header names and synonyms: case-folded, '_' and '-' as spaces, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().replace("_", " ").replace("-", " ").split())


def check_length(value: str, limit: int) -> str:
    if len(value) > limit:
        raise FieldError(f"is longer than {limit} characters")
    return value


def check_identifier(value: str, limit: int) -> str:
    """An id as given: at most `limit` characters and no control (or other invisible) characters."""
    check_length(value, limit)
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise FieldError("contains control characters")
    return value


# --- date-times -------------------------------------------------------------------------


def zone(name: str, *, hint: str = "") -> ZoneInfo:
    """The IANA time zone; ValueError (with `hint` appended) when there is none of that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}{hint}") from None


def parse_iso_or_formats(text: str, formats: Sequence[str] = ()) -> datetime | None:
    """ISO 8601 first, then each strptime format in turn; None when none fits."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def plausible_utc(parsed: datetime, value: str, years: tuple[int, int] = PLAUSIBLE_YEARS) -> datetime:
    """An aware date-time as UTC; a year outside `years` is a typo. `value` is the input, for messages."""
    try:
        result = parsed.astimezone(UTC)
    except OverflowError:
        raise FieldError(f"{value!r} is out of range") from None
    if not years[0] <= result.year <= years[1]:
        raise FieldError(f"{value!r} is outside the plausible years {years[0]}..{years[1]}")
    return result


# --- stored reports ---------------------------------------------------------------------


async def load_import_report(conn: Any, *, tenant: str, import_id: str, columns: Sequence[str],
                             table: str = "imports") -> dict[str, Any] | None:
    """The tenant's report: `columns` of its row, jsonb decoded and times in ISO 8601."""
    where = Where().equal("tenant_id", tenant).equal("import_id", import_id)
    selected = ", ".join(identifier(c) for c in columns)
    statement = await conn.prepare(f"SELECT {selected} FROM {identifier(table)} {where}")
    row = await statement.fetchrow(*where.args)
    if row is None:
        return None
    json_columns = {a.name for a in statement.get_attributes() if a.type.name in ("json", "jsonb")}
    return {name: _report_value(value, name in json_columns) for name, value in row.items()}


def _report_value(value: Any, is_json: bool) -> Any:
    if is_json and value is not None:
        return json.loads(value)
    return value.isoformat() if isinstance(value, datetime) else value


async def get_import_report(request: Request, caller: Principal, import_id: str, *, columns: Sequence[str],
                            table: str = "imports") -> dict[str, Any]:
    """The body of `GET /v1/imports/{id}`: the caller's tenant's report, else the (audited) 404."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        report = await load_import_report(conn, tenant=caller.tenant, import_id=import_id, columns=columns, table=table)
        if report is None:
            owner = await conn.fetchval(f"SELECT tenant_id FROM {identifier(table)} WHERE import_id = $1", import_id)
            raise await tenancy.not_found(runtime.pool, caller, f"import {import_id}", owner_tenant=owner)
    return report
