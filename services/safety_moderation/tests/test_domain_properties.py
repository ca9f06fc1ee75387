"""Property tests of the rule engine's invariants: normalisation keeps a valid map back to the
original, keywords match exactly at word boundaries whatever the case, severity is the max
of what matched, masking never lets a PII value through, and redactions merge cleanly."""

from __future__ import annotations

import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.safety_moderation import domain
from services.safety_moderation.config import DEFAULT_POLICY_PATH

DEFAULT = domain.parse_policy(DEFAULT_POLICY_PATH.read_bytes())

any_text = st.text(st.characters(codec="utf-8"), max_size=200)
KEYWORD_LETTERS = "abcdefghijklm"
FILLER_LETTERS = "nopqrstuvwxyz"
keyword_words = st.text(st.sampled_from(KEYWORD_LETTERS), min_size=3, max_size=10)
filler = st.lists(st.text(st.sampled_from(FILLER_LETTERS), min_size=1, max_size=8), max_size=6)
separators = st.sampled_from([" ", "  ", "\n", ", ", ". ", " - ", "! ", " ("])


def recase(data, word: str) -> str:
    return "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in word)


# --- normalisation ---------------------------------------------------------------------------


@given(any_text)
def test_normalised_text_maps_back_into_the_original_in_order(text):
    norm = domain.normalise(text)
    assert len(norm.origin) == len(norm.text)
    assert list(norm.origin) == sorted(norm.origin)
    assert all(0 <= i < len(text) for i in norm.origin)


@given(any_text)
def test_normalising_twice_changes_nothing(text):
    once = domain.normalise(text).text
    assert domain.normalise(once).text == once


# --- keywords --------------------------------------------------------------------------------


def keyword_policy(rules: list[tuple[str, str, str]]) -> domain.Policy:
    lines = ["rules:"]
    for n, (keyword, severity, action) in enumerate(rules):
        lines.append(f"  - {{id: r{n}, category: abuse, severity: {severity}, action: {action}, keywords: [{keyword}]}}")
    return domain.parse_policy("\n".join(lines).encode())


@given(st.data(), keyword_words, filler, filler)
def test_a_keyword_is_found_as_a_word_in_any_case_and_never_inside_another_word(data, keyword, before, after):
    p = keyword_policy([(keyword, "low", "flag")])
    sep = data.draw(separators)
    text = sep.join([*before, recase(data, keyword), *after])
    matches = domain.find_matches(p, text)
    assert len(matches) == 1 and text[matches[0].start:matches[0].end].lower() == keyword

    glued_letter = data.draw(st.sampled_from(string.ascii_letters + "0123456789"))
    glued = data.draw(st.sampled_from([glued_letter + keyword, keyword + glued_letter]))
    assert domain.find_matches(p, sep.join([*before, glued, *after])) == ()


@given(
    st.data(),
    st.lists(st.tuples(st.sampled_from(domain.SEVERITIES), st.sampled_from(domain.ACTIONS)), min_size=1, max_size=5),
)
def test_severity_is_the_max_and_the_outcome_follows_the_actions_of_what_matched(data, specs):
    keywords = data.draw(st.lists(keyword_words, min_size=len(specs), max_size=len(specs), unique=True))
    p = keyword_policy([(k, s, a) for k, (s, a) in zip(keywords, specs, strict=True)])
    present = data.draw(st.lists(st.sampled_from(range(len(specs))), unique=True))
    words = data.draw(filler) + [recase(data, keywords[i]) for i in present] + data.draw(filler)
    words = data.draw(st.permutations(words))
    # A keyword may also appear inside another one's text only as a whole word; filler never matches.
    assume(all(keywords[i] == k or f" {keywords[i]} " not in f" {k} " for i in present for k in keywords))
    result = domain.screen(p, " ".join(words))

    hit = {f"r{i}" for i in present}
    assert {m.rule_id for m in result.matches} == hit
    assert result.severity == domain.max_severity(specs[i][0] for i in present)
    if not present:
        assert result.outcome == "clear"
    elif any(specs[i][1] == "hold" for i in present):
        assert result.outcome == "held" and result.verdict == "held"
    else:
        assert result.outcome == "flagged" and result.verdict == "clear"
    if present:
        assert domain.SEVERITY_RANK[result.primary.severity] == max(domain.SEVERITY_RANK[specs[i][0]] for i in present)


# --- masking never leaks PII ------------------------------------------------------------------


def iban(country: str, bban: str) -> str:
    """A valid IBAN for `bban` (check digits computed per ISO 13616)."""
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    compact = f"{country}{check:02d}{bban}"
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


emails = st.builds(lambda local, dom, tld: f"{local}@{dom}.{tld}",
                   st.from_regex(r"[a-z]{2,8}(\.[a-z]{2,6})?", fullmatch=True), st.from_regex(r"[a-z]{3,8}", fullmatch=True),
                   st.sampled_from(["no", "com", "org", "co.uk"]))
phones = st.one_of(
    st.from_regex(r"\+47 [49][0-9][0-9] [0-9][0-9] [0-9][0-9][0-9]", fullmatch=True),
    st.from_regex(r"[49][0-9]{7}", fullmatch=True),
    st.from_regex(r"\+44 \(0\)20 [0-9]{4} [0-9]{4}", fullmatch=True),
    st.from_regex(r"00[0-9]{2} [0-9]{8}", fullmatch=True),
)
national_ids = st.one_of(st.from_regex(r"[0-9]{11}", fullmatch=True), st.from_regex(r"[0-9]{6} [0-9]{5}", fullmatch=True),
                         st.from_regex(r"[0-9]{3}-[0-9]{2}-[0-9]{4}", fullmatch=True))
ibans = st.one_of(st.builds(iban, st.just("NO"), st.from_regex(r"[0-9]{11}", fullmatch=True)),
                  st.builds(iban, st.just("DE"), st.from_regex(r"[0-9]{18}", fullmatch=True)))
pii_values = st.one_of(emails, phones, national_ids, ibans)
letter_words = st.text(st.sampled_from(string.ascii_letters), min_size=1, max_size=10)
pii_separators = st.sampled_from([" ", ", ", "\n", " (", ") ", "; ", ": "])


@settings(max_examples=300)
@given(st.data(), st.lists(pii_values, min_size=1, max_size=4), st.lists(letter_words, max_size=8))
def test_no_pii_value_survives_masking(data, values, words):
    parts = data.draw(st.permutations(words + values))
    sep = data.draw(pii_separators)
    text = sep.join(parts)
    result = domain.screen(DEFAULT, text)

    assert result.outcome == "held"  # every value here is PII the default policy holds
    for shown in (result.masked_text, result.excerpt, domain.mask_pii(text)):
        # Words are letters only: any digit or '@' left would be a piece of a PII value.
        assert not any(c.isdigit() for c in shown), (text, shown)
        assert "@" not in shown
        for value in values:
            assert value not in shown
    assert result.primary.category == "pii_leak"


@given(any_text)
def test_screening_arbitrary_text_never_fails_and_spans_stay_in_bounds(text):
    result = domain.screen(DEFAULT, text)
    for m in result.matches:
        assert 0 <= m.start < m.end <= len(text)
    for span in domain.pii_spans(text):
        assert 0 <= span.start < span.end <= len(text)
        if span.kind == "email":
            assert text[span.start:span.end] not in (result.masked_text or domain.mask_pii(text))
    if result.excerpt is not None:
        assert result.excerpt.strip("…") in result.masked_text


# --- redactions ------------------------------------------------------------------------------

spans = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 20), st.sampled_from(["[A]", "[B]"])), max_size=8)


@given(spans)
def test_merged_redactions_are_sorted_disjoint_and_cover_the_same_characters(raw):
    items = [domain.Redaction(s, s + n, label) for s, n, label in raw]
    merged = domain.merge_redactions(items)
    assert all(a.end <= b.start for a, b in zip(merged, merged[1:], strict=False))
    covered = {i for r in items for i in range(r.start, r.end)}
    assert {i for r in merged for i in range(r.start, r.end)} == covered


@given(st.text(st.sampled_from("abc xyz"), max_size=80), spans)
def test_mask_replaces_exactly_the_redacted_characters(text, raw):
    items = [domain.Redaction(min(s, len(text)), min(s + n, len(text)), label) for s, n, label in raw]
    masked = domain.mask(text, items)
    merged = domain.merge_redactions(items)
    expected, cursor = [], 0
    for r in merged:
        expected += [text[cursor:r.start], r.label]
        cursor = r.end
    assert masked.text == "".join(expected) + text[cursor:]
    assert domain.mask(text, []).text == text
