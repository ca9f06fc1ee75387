"""The lexicon + rules model: cues, negation, modifiers, CEFR, evidence and explanations."""

from __future__ import annotations

import pytest

from services.q2q_ai import domain, lexicon
from services.q2q_ai.domain import Dimension
from services.q2q_ai.providers import LexiconProvider

MODEL = lexicon.DEFAULT_LEXICON


def scores(text: str) -> dict[str, domain.DimensionScore]:
    return {s.dimension.value: s for s in MODEL.analyse(text).scores}


def cues(score: domain.DimensionScore) -> list[tuple]:
    return [(e["cue"], e["target"], e["weight"], e["negated"], e["modifier"]) for e in score.explanation]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("I didn't understand", ["i", "did", "not", "understand"]),
        ("I can't and I won't", ["i", "can", "not", "and", "i", "will", "not"]),
        ("I cannot, I’m shy", ["i", "can", "not", ",", "i", "am", "shy"]),
        ("It's fine, we're ok, they've gone", ["it", "is", "fine", ",", "we", "are", "ok", ",", "they", "have", "gone"]),
        ("Anna's CV", ["anna", "cv"]),
    ],
)
def test_tokenize_expands_contractions(text, words):
    assert [t.word for t in lexicon.tokenize(text)] == words


def test_token_spans_point_into_the_text():
    text = "I didn't feel welcome."
    for token in lexicon.tokenize(text):
        assert text[token.start:token.end].lower().replace("’", "'").startswith(token.word[:1]) or token.word == "not"


def test_a_plain_cue_scores_its_dimension_only():
    found = scores("I feel confident.")
    assert set(found) == {"confidence"}
    assert cues(found["confidence"]) == [("confident", 0.85, 1.0, False, None)]
    # value = (1.0 * 0.85 + 1.0 * 0.5) / 2 ; confidence = 1 - exp(-1/2)
    assert found["confidence"].value == 0.675
    assert found["confidence"].confidence == 0.3935


def test_negation_flips_the_target():
    assert cues(scores("I am not nervous.")["confidence"]) == [("nervous", 0.8, 1.0, True, None)]
    assert cues(scores("I never felt lonely")["belonging"]) == [("lonely", 0.9, 1.2, True, None)]
    assert cues(scores("No longer lonely")["belonging"]) == [("lonely", 0.9, 1.2, True, None)]
    assert cues(scores("I didn't understand anything")["language_level_proxy"]) == [
        ("understand", 0.3, 0.6, True, None)]


def test_double_negation_cancels():
    assert cues(scores("I wasn't never nervous")["confidence"])[0][3] is False


def test_negation_does_not_cross_a_clause_break():
    found = cues(scores("Not at all, I am nervous")["confidence"])
    assert found == [("nervous", 0.2, 1.0, False, None)]
    found = cues(scores("I did not sleep but I feel confident")["confidence"])
    assert found == [("confident", 0.85, 1.0, False, None)]


def test_negation_reaches_only_three_words_back():
    assert cues(scores("not that he said I was nervous")["confidence"])[0][3] is False


def test_intensifiers_and_diminishers_change_the_weight():
    assert cues(scores("I feel very confident")["confidence"]) == [("confident", 0.85, 1.5, False, "very")]
    assert cues(scores("a bit nervous")["confidence"]) == [("nervous", 0.2, 0.6, False, "bit")]
    assert scores("I feel very confident")["confidence"].value > scores("I feel confident")["confidence"].value
    assert scores("I feel very confident")["confidence"].confidence > scores("I feel confident")["confidence"].confidence


def test_a_negated_intensifier_softens():
    assert cues(scores("I am not very confident")["confidence"]) == [
        ("confident", 0.15, lexicon.NEGATED_INTENSIFIER, True, "very")]


def test_the_longest_phrase_wins_and_its_words_are_not_matched_again():
    assert [c[0] for c in cues(scores("I made friends")["belonging"])] == ["made friends"]
    assert [c[0] for c in cues(scores("I had a job interview")["job_readiness"])] == ["job interview"]
    # Matching runs left to right: a phrase that starts earlier wins, so overlaps get their own cue.
    assert [c[0] for c in cues(scores("I got a job interview")["job_readiness"])] == ["got a job interview"]


def test_a_prefix_cue_matches_word_forms():
    for text in ("They welcomed me", "Everyone was welcoming", "I felt welcome"):
        assert cues(scores(text)["belonging"])[0][0] == "welcom*"


def test_cefr_levels_are_language_cues_and_are_not_negated():
    found = scores("My Norwegian is B2 now, not A2.")["language_level_proxy"]
    assert [(c[0], c[1]) for c in cues(found)] == [("B2", 0.65), ("A2", 0.25)]


def test_evidence_is_the_sentences_holding_the_cues():
    analysis = MODEL.analyse("We walked to the park. I feel lonely here. It rained. I got a job offer!")
    by = {s.dimension: s for s in analysis.scores}
    assert [analysis.snippets[i].text for i in by[Dimension.BELONGING].evidence] == ["I feel lonely here."]
    assert [analysis.snippets[i].text for i in by[Dimension.JOB_READINESS].evidence] == ["I got a job offer!"]
    assert [s.text for s in analysis.cited()] == ["I feel lonely here.", "I got a job offer!"]


def test_the_explanation_quotes_what_matched():
    analysis = MODEL.analyse("Honestly I feel VERY Confident now.")
    [score] = analysis.scores
    [why] = score.explanation
    assert why["matched"] == "Confident"
    assert why["modifier"] == "very"
    assert why["matched"] in analysis.snippets[why["snippet"]].text


def test_mixed_signals_give_lower_confidence_than_agreeing_ones():
    mixed = scores("I am confident. I am nervous.")["confidence"]
    agreeing = scores("I am confident. I am proud.")["confidence"]
    assert mixed.confidence < agreeing.confidence
    assert abs(mixed.value - 0.5) < abs(agreeing.value - 0.5)


def test_more_evidence_more_confidence():
    one = scores("I feel lonely.")["belonging"]
    three = scores("I feel lonely. I am isolated. I feel like an outsider.")["belonging"]
    assert three.confidence > one.confidence
    assert three.value < one.value < 0.5


def test_a_text_without_cues_is_not_scored():
    assert MODEL.analyse("We took the bus and had soup.").scores == ()
    assert MODEL.analyse("").scores == ()


def test_each_dimension_is_reachable_from_plain_text():
    text = ("I feel much more confident. I made friends and feel at home. I understand everything now, "
            "I am B2. I had a job interview and got the job!")
    found = scores(text)
    assert set(found) == set(domain.DIMENSIONS)
    assert all(s.value > 0.6 for s in found.values()), {k: v.value for k, v in found.items()}
    low = scores("I am scared and insecure. I am lonely. I need an interpreter. I am unemployed.")
    assert set(low) == set(domain.DIMENSIONS)
    assert all(s.value < 0.4 for s in low.values()), {k: v.value for k, v in low.items()}


def test_long_sentences_are_cut_into_snippets_of_at_most_280_characters():
    text = ("word " * 100) + "I feel lonely " + ("word " * 100)
    snippets = domain.segment(text)
    assert len(snippets) > 1 and all(len(s.text) <= domain.MAX_SNIPPET_CHARS for s in snippets)
    assert all(s.text == text[s.start:s.end] for s in snippets)
    assert [s.index for s in snippets] == list(range(len(snippets)))


def test_segment_splits_on_sentence_ends_and_newlines():
    assert [s.text for s in domain.segment("One. Two!  Three?\nFour… five\n\n")] == [
        "One.", "Two!", "Three?", "Four…", "five"]


def test_model_version_hashes_the_configuration():
    default = LexiconProvider()
    assert default.model_version.startswith("lexicon:1.0.0:")
    assert default.model_version == LexiconProvider().model_version
    changed = dict(lexicon.CUES)
    changed[Dimension.CONFIDENCE] = (*lexicon.CUES[Dimension.CONFIDENCE][:-1], ("useless", 0.1, 1.1))
    assert LexiconProvider(lexicon.Lexicon(changed)).model_version != default.model_version


def test_aggregate_needs_signals_and_stays_in_bounds():
    with pytest.raises(ValueError, match="no signals"):
        domain.aggregate([])
    value, confidence = domain.aggregate([domain.Signal(1.0, 1000.0, 0)])
    assert 0.99 < value <= 1 and 0.99 < confidence <= 1


def test_a_score_citing_a_missing_snippet_is_refused():
    with pytest.raises(ValueError, match="does not exist"):
        domain.score_signals((), {Dimension.CONFIDENCE: [domain.Signal(0.7, 1.0, 0)]})


def test_the_sample_texts_behave_as_labelled():
    import json
    from pathlib import Path

    samples = json.loads((Path(__file__).resolve().parents[1] / "samples" / "texts.json").read_text())
    for sample in samples:
        masked = domain.mask(sample["text"])
        assert domain.find_pii(masked) == []
        found = {s.dimension.value: s for s in MODEL.analyse(masked).scores}
        if sample["label"] == "nothing to score":
            assert found == {}
        else:
            assert found, sample["label"]
    by_label = {s["label"]: {d.dimension.value: d for d in MODEL.analyse(domain.mask(s["text"])).scores} for s in samples}
    assert by_label["isolation and a language barrier"]["belonging"].value < 0.5
    assert by_label["isolation and a language barrier"]["language_level_proxy"].value < 0.5
    assert by_label["job search going well"]["job_readiness"].value > 0.5
