"""Property tests (hypothesis) for the invariants: the category rule is total and case-blind and a
language mention always wins; ids are stable, bounded and collision-free; dates, percentages and
scores round-trip and stay in bounds; every adapter returns exactly one result per source row
and never crashes on junk; parsing is deterministic (so re-imports find the same ids); progress
planning is idempotent and keeps the latest news."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.upskilling_connector import domain
from services.upskilling_connector.domain import ExportRejected, FieldError, Progress, RowError, StoredProgress
from services.upskilling_connector.providers import default_registry
from services.upskilling_connector.providers.base import RawExport

ECORNELL = default_registry().get("ecornell")
ITSLEARNING = default_registry().get("itslearning")

ids = st.text(st.characters(codec="ascii", categories=["L", "N"], include_characters="-_:/%"), min_size=1, max_size=120)
names = st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs", "Pd"]), min_size=0, max_size=60)
instants = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC))
LANGUAGE_WORDS = st.sampled_from(domain.CATEGORY_KEYWORDS["language"])


# --- the category rule -----------------------------------------------------------------------------


@given(st.one_of(st.none(), ids), st.one_of(st.none(), names))
def test_the_category_rule_is_total(code, name):
    assert domain.categorise(code, name) in (*domain.CATEGORIES, None)


@given(st.one_of(st.none(), ids), names, st.sampled_from([str.upper, str.lower, str.title]), st.sampled_from(["", " ", "  \t"]))
def test_the_category_ignores_case_and_padding(code, name, case, pad):
    assert domain.categorise(code, name) == domain.categorise(code, pad + case(name) + pad)


@given(st.one_of(st.none(), ids), names, LANGUAGE_WORDS, names)
def test_a_language_keyword_anywhere_in_the_name_wins(code, before, keyword, after):
    assert domain.categorise(code, f"{before} {keyword} {after}") == "language"


# --- identities -----------------------------------------------------------------------------------


@given(st.sampled_from(["ecornell", "itslearning"]), st.lists(ids, min_size=1, max_size=3),
       st.lists(ids, min_size=1, max_size=3))
def test_record_ids_are_stable_bounded_and_distinct(provider, parts, other):
    first = domain.record_id(provider, *parts)
    assert first == domain.record_id(provider, *parts)
    assert 0 < len(first) <= domain.MAX_ID and first.startswith(provider + ":")
    if parts != other:
        assert first != domain.record_id(provider, *other)


# --- values ---------------------------------------------------------------------------------------


@given(instants)
def test_iso_and_dotnet_dates_round_trip(instant):
    assert domain.parse_datetime(instant.isoformat()) == instant
    assert domain.parse_datetime(instant.isoformat().replace("+00:00", "Z")) == instant
    millis = int((instant - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))
    assert domain.parse_datetime(f"/Date({millis}+0200)/") == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)


@given(st.dates(min_value=date(2000, 1, 2), max_value=date(2099, 12, 30)))
def test_provider_local_dates_are_local_midnight(day):
    assert domain.parse_datetime(day.strftime("%m/%d/%Y"), formats=("%m/%d/%Y",), timezone="America/New_York") == \
        domain.local_midnight(day, "America/New_York")
    assert domain.parse_datetime(day.strftime("%d.%m.%Y"), formats=("%d.%m.%Y",), timezone="Europe/Oslo") == \
        domain.local_midnight(day, "Europe/Oslo")


@given(st.integers(min_value=0, max_value=10_000), st.sampled_from(["{}", "{}%", "{} %", " {} "]), st.booleans())
def test_percentages_round_trip(hundredths, template, comma):
    number = f"{hundredths // 100}.{hundredths % 100:02d}"
    raw = template.format(number.replace(".", ",") if comma else number)
    assert domain.parse_percent(raw) == round(hundredths / 100, 2)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6).filter(lambda x: not 0 <= x <= 100))
def test_percentages_out_of_bounds_are_refused(value):
    try:
        domain.parse_percent(repr(value))
    except FieldError:
        return
    raise AssertionError(f"{value!r} was accepted")


@given(st.floats(min_value=-100, max_value=1000, allow_nan=False), st.one_of(st.none(), st.floats(min_value=-10, max_value=500, allow_nan=False)))
def test_scores_are_percentages_in_bounds_or_refused(points, max_points):
    try:
        score = domain.score_percent(points, max_points)
    except FieldError:
        assert points < 0 or (max_points is None and points > 100) or (max_points is not None and (max_points <= 0 or points > max_points))
        return
    assert 0 <= score <= 100


# --- adapters -------------------------------------------------------------------------------------

ECORNELL_HEADER = ["Learner ID", "Course Code", "Course Name", "Status", "Completion Date", "Last Activity Date",
                   "Percent Complete", "Grade", "CEUs"]
cells = st.one_of(st.text(max_size=15), st.sampled_from(["Complete", "In Progress", "Incomplete", "03/19/2024", "45", "105", ""]))


def _csv(rows: list[list[str]], header: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # '\r\n' line ends, so a cell with a bare '\r' or '\n' is quoted (as Excel does)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@settings(max_examples=60)
@given(st.lists(st.lists(cells, min_size=len(ECORNELL_HEADER), max_size=len(ECORNELL_HEADER)), max_size=12),
       st.sampled_from(["completions", "progress"]))
def test_ecornell_returns_one_result_per_row_and_never_crashes(rows, kind):
    text = _csv(rows, ECORNELL_HEADER)
    non_blank = [r for r in rows if any(c.strip() for c in r)]
    try:
        parsed = ECORNELL.parse(kind, RawExport("csv", text))
    except ExportRejected:
        return  # e.g. a cell with a stray quote character makes the CSV malformed: a file-level 422
    assert len(parsed.rows) == len(non_blank)
    lines = [r.where.line for r in parsed.rows]
    assert lines == sorted(lines) and len(set(lines)) == len(lines)
    assert parsed == ECORNELL.parse(kind, RawExport("csv", text))  # deterministic: the same ids on re-import


json_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12),
                        st.sampled_from(["Passed", "Failed", "In progress", "2024-03-18T08:05:00Z", "/Date(1710749100000)/"]),
                        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
json_keys = st.sampled_from(["SyncId", "PersonId", "CourseId", "CourseTitle", "AssessmentStatus", "Score", "MaxScore",
                             "ReviewDate", "SubmittedDate", "LastModified", "ProgressPercent", "ElementId", "Other",
                             "BadgeName", "AssertionId", "IssuedOn"])


@settings(max_examples=60)
@given(st.lists(st.one_of(st.dictionaries(json_keys, json_values, max_size=10), json_values), max_size=10),
       st.sampled_from(["completions", "progress", "credentials"]), st.booleans())
def test_itslearning_returns_one_result_per_record_and_never_crashes(records, kind, envelope):
    body = json.dumps({"EntityArray": records} if envelope else records)
    parsed = ITSLEARNING.parse(kind, RawExport("json", body))
    assert [r.where.index for r in parsed.rows] == list(range(len(records)))
    for row, record in zip(parsed.rows, records, strict=True):
        if not isinstance(record, dict):
            assert isinstance(row, RowError)
    assert parsed == ITSLEARNING.parse(kind, RawExport("json", body))


# --- progress planning ------------------------------------------------------------------------------

progress_rows = st.lists(
    st.builds(lambda course, percent, day: Progress("itslearning", "P-1", course, "Course", percent,
                                                    datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)),
              st.sampled_from(["C-1", "C-2"]), st.integers(0, 4).map(lambda n: n * 25.0), st.integers(0, 30)),
    max_size=12,
)


@given(progress_rows)
def test_replaying_a_plan_changes_nothing(rows):
    _, final = domain.plan_progress(rows, {})
    stored = {k: StoredProgress(v.percent_complete, v.updated_at) for k, v in final.items()}
    decisions, again = domain.plan_progress(rows, stored)
    assert not any(decisions) and again == {}


@given(progress_rows.map(lambda rows: list({r.updated_at: r for r in rows}.values())), st.randoms())
def test_the_latest_news_wins_in_any_order(rows, random):
    """With distinct times, the stored percentage is the latest row's whatever order the rows arrive in."""
    shuffled = list(rows)
    random.shuffle(shuffled)
    state: dict[str, StoredProgress] = {}
    for row in shuffled:  # one row per import, in a random order
        _, final = domain.plan_progress([row], state)
        state.update({k: StoredProgress(v.percent_complete, v.updated_at) for k, v in final.items()})
    for course in {r.course_id for r in rows}:
        latest = max((r for r in rows if r.course_id == course), key=lambda r: r.updated_at)
        assert state[latest.progress_id].percent_complete == latest.percent_complete
