"""summit_common.imports: reading uploaded CSVs, date-time checks, and loading a stored report."""

import json
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from summit_common import imports
from summit_common.imports import FieldError, ImportRejected


def test_utf8_with_or_without_bom():
    assert imports.decode_utf8("\ufeffa,b\n".encode()) == "a,b\n"
    assert imports.decode_utf8("æ,ø\n".encode()) == "æ,ø\n"


def test_non_utf8_is_rejected_with_the_offset():
    with pytest.raises(ImportRejected, match=r"the export must be UTF-8 encoded \(invalid byte at offset 2\)"):
        imports.decode_utf8("a,æ".encode("latin-1"), what="the export")


@pytest.mark.parametrize(("text", "expected"), [
    ("a;b;c\n1,2;3\n", ";"),
    ("a\tb\n", "\t"),
    ("a,b;c\n", ","),  # a tie: the first candidate
    ("single\n", ","),  # none: the first candidate
    ("\ufeffa;b\n", ";"),
])
def test_delimiter_is_what_the_header_uses_most(text, expected):
    assert imports.sniff_delimiter(text) == expected


def test_sniffing_only_among_the_allowed_delimiters():
    assert imports.sniff_delimiter("a;b;c\n", (",", "|")) == ","


def test_rows_carry_their_physical_line_and_blank_lines_are_skipped():
    header, rows = imports.read_csv('id,note\n1,"two\nlines"\n\n , \n2,x\n', delimiter=",")
    assert header == ["id", "note"]
    assert list(rows) == [(2, ["1", "two\nlines"]), (6, ["2", "x"])]


@pytest.mark.parametrize("text", ["", "\n", " , \n1,2\n"])
def test_a_header_is_required(text):
    with pytest.raises(ImportRejected, match="the matches CSV is empty: a header row is required"):
        imports.read_csv(text, delimiter=",", what="the matches CSV")


def test_broken_quoting_is_rejected_while_reading_rows():
    header, rows = imports.read_csv('id,note\n1,"open\n', delimiter=",")
    assert header == ["id", "note"]
    with pytest.raises(ImportRejected, match="the CSV is malformed near line"):
        list(rows)


def test_width_mismatch():
    assert imports.width_mismatch(["1", "2"], ["a", "b"]) is None
    assert imports.width_mismatch(["1"], ["a", "b"]) == "the row has 1 values but the header has 2 columns"


def test_iso_first_then_the_formats_in_order():
    assert imports.parse_iso_or_formats("2024-03-01T10:00:00+01:00") == datetime(
        2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=1)))
    assert imports.parse_iso_or_formats("01/03/2024", ("%m/%d/%Y", "%d/%m/%Y")) == datetime(2024, 1, 3)
    assert imports.parse_iso_or_formats("1 March 2024", ("%d/%m/%Y",)) is None


def test_plausible_utc():
    local = datetime(2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=1)))
    assert imports.plausible_utc(local, "x") == datetime(2024, 3, 1, 9, tzinfo=UTC)
    with pytest.raises(FieldError, match=r"'1999-12-31' is outside the plausible years 2000\.\.2100"):
        imports.plausible_utc(datetime(1999, 12, 31, tzinfo=UTC), "1999-12-31")
    with pytest.raises(FieldError, match="is out of range"):
        imports.plausible_utc(datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))), "max")


class _Statement:
    def __init__(self, row, types):
        self.row, self.types = row, types
        self.args = None

    async def fetchrow(self, *args):
        self.args = args
        return self.row

    def get_attributes(self):
        return [SimpleNamespace(name=n, type=SimpleNamespace(name=t)) for n, t in self.types.items()]


class _Conn:
    """Only the statement a unit test needs; the services' integration tests use real Postgres."""

    def __init__(self, statement):
        self.statement, self.sql = statement, None

    async def prepare(self, sql):
        self.sql = sql
        return self.statement


async def test_a_stored_report_has_jsonb_decoded_and_times_in_iso():
    created = datetime(2024, 3, 1, 9, tzinfo=UTC)
    row = {"import_id": "i1", "errors": json.dumps([{"line": 2}]), "filename": None, "created_at": created}
    statement = _Statement(row, {"import_id": "text", "errors": "jsonb", "filename": "text", "created_at": "timestamptz"})
    conn = _Conn(statement)
    report = await imports.load_import_report(conn, tenant="t1", import_id="i1", columns=list(row))
    assert report == {"import_id": "i1", "errors": [{"line": 2}], "filename": None, "created_at": created.isoformat()}
    assert conn.sql == "SELECT import_id, errors, filename, created_at FROM imports WHERE tenant_id = $1 AND import_id = $2"
    assert statement.args == ("t1", "i1")


async def test_another_tenants_report_is_none():
    conn = _Conn(_Statement(None, {"import_id": "text"}))
    assert await imports.load_import_report(conn, tenant="t2", import_id="i1", columns=["import_id"]) is None


async def test_columns_and_table_must_be_plain_names():
    with pytest.raises(ValueError):
        await imports.load_import_report(_Conn(None), tenant="t", import_id="i", columns=["*"])
    with pytest.raises(ValueError):
        await imports.load_import_report(_Conn(None), tenant="t", import_id="i", columns=["a"], table="imports; --")


def test_clean_trims_normalises_and_empties_to_none():
    assert imports.clean("\u00a0 M-1 \t") == "M-1"
    assert imports.clean("Cafe\u0301") == "Café"
    assert imports.clean("  ") is None and imports.clean(None) is None
    assert imports.clean(42) == "42"


def test_lookup_keys_ignore_case_separators_and_spacing():
    assert imports.lookup_key(" Match_ID ") == imports.lookup_key("match-id") == imports.lookup_key("MATCH  id") == "match id"


def test_identifiers_are_bounded_and_visible():
    assert imports.check_identifier("BM-1001", 10) == "BM-1001"
    with pytest.raises(FieldError, match="is longer than 3 characters"):
        imports.check_identifier("abcd", 3)
    with pytest.raises(FieldError, match="contains control characters"):
        imports.check_identifier("a\u200bb", 10)  # a zero-width space (category Cf)
    assert imports.check_length("x" * 5, 5) == "xxxxx"


def test_unknown_zones_name_the_zone_and_the_hint():
    assert str(imports.zone("Europe/Oslo")) == "Europe/Oslo"
    with pytest.raises(ValueError, match=r"unknown timezone 'Mars/Olympus' \(an IANA name\)"):
        imports.zone("Mars/Olympus", hint=" (an IANA name)")
