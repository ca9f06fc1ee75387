"""Property tests of scoring: bounded, deterministic, evidence always exists, no PII in evidence."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from services.q2q_ai import domain, lexicon
from services.q2q_ai.providers import LexiconProvider
from services.q2q_ai.tests.test_masking import emails, phones

ALL_CUES = sorted({c.phrase.rstrip("*") for cues in lexicon.DEFAULT_LEXICON.cues.values() for c in cues})
MODIFIERS = sorted([*lexicon.NEGATORS, *lexicon.INTENSIFIERS, *lexicon.DIMINISHERS, "a", "I", "feel", "but", ","])
words = st.one_of(st.sampled_from(ALL_CUES), st.sampled_from(MODIFIERS), st.sampled_from(["A1", "b2", "C2"]),
                  st.text(st.characters(categories=["L"]), min_size=1, max_size=8))
sentences = st.lists(words, min_size=1, max_size=12).map(lambda ws: " ".join(ws)).flatmap(
    lambda s: st.sampled_from([".", "!", "?", "\n", ""]).map(lambda end: s + end))
# Texts built from cues and modifiers (to hit the rules), and arbitrary unicode (to hit everything else).
texts = st.one_of(st.lists(sentences, max_size=8).map(" ".join), st.text(max_size=400))
PROVIDER = LexiconProvider()


def check_analysis(analysis: domain.Analysis, text: str) -> None:
    indices = {s.index for s in analysis.snippets}
    assert [s.index for s in analysis.snippets] == list(range(len(analysis.snippets)))
    for snippet in analysis.snippets:
        assert snippet.text == text[snippet.start:snippet.end] and snippet.text.strip()
        assert len(snippet.text) <= domain.MAX_SNIPPET_CHARS
    assert len({s.dimension for s in analysis.scores}) == len(analysis.scores)
    for score in analysis.scores:
        assert 0 <= score.value <= 1 and 0 <= score.confidence <= 1
        assert score.evidence, "a score rests on at least one snippet"
        assert set(score.evidence) <= indices, "a score cites only snippets that exist"
        assert list(score.evidence) == sorted(set(score.evidence))
        assert {e["snippet"] for e in score.explanation} == set(score.evidence)
        for why in score.explanation:
            assert 0 <= why["target"] <= 1 and why["weight"] > 0
            snippet = analysis.snippets[why["snippet"]].text
            assert why["matched"] == snippet[why["at"]:why["at"] + len(why["matched"])]
    assert {s.index for s in analysis.cited()} == {i for s in analysis.scores for i in s.evidence}


@settings(max_examples=400, deadline=None)  # a shared 2-core machine: no per-example deadline
@given(texts)
def test_scores_are_bounded_cite_existing_evidence_and_explain_themselves(text):
    check_analysis(PROVIDER.analyse(text), text)


@settings(max_examples=200, deadline=None)  # a shared 2-core machine: no per-example deadline
@given(texts)
def test_scoring_is_deterministic(text):
    first = PROVIDER.analyse(text)
    assert first == PROVIDER.analyse(text)
    assert first == LexiconProvider(lexicon.Lexicon()).analyse(text)  # a fresh model, the same result
    assert LexiconProvider().model_version == PROVIDER.model_version


@settings(max_examples=200, deadline=None)  # a shared 2-core machine: no per-example deadline
@given(st.lists(st.tuples(sentences, st.one_of(emails, phones)), min_size=1, max_size=5))
def test_stored_evidence_never_holds_an_email_or_phone(parts):
    raw = " ".join(f"{s} {pii} I feel lonely." for s, pii in parts)
    analysis = PROVIDER.analyse(domain.mask(raw))
    assert analysis.cited(), "every part has a belonging cue"
    for snippet in analysis.cited():
        assert domain.find_pii(snippet.text) == []
        assert "@" not in snippet.text and not re.search(r"\d{3}", snippet.text)
        assert snippet.sha256 == domain.sha256_hex(snippet.text)


@settings(deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.01, 50)), min_size=1, max_size=20))
def test_aggregate_is_bounded_and_a_weighted_mean_shrunk_to_one_half(pairs):
    signals = [domain.Signal(t, w, 0) for t, w in pairs]
    value, confidence = domain.aggregate(signals)
    assert 0 <= value <= 1 and 0 <= confidence <= 1
    lo, hi = min(min(t for t, _ in pairs), 0.5), max(max(t for t, _ in pairs), 0.5)
    assert lo - 1e-4 <= value <= hi + 1e-4
