"""The outcome taxonomy: four dimensions, the same as the event contract, each with cues both ways."""

from __future__ import annotations

from typing import get_args

import pytest

from services.q2q_ai import domain, lexicon
from services.q2q_ai.domain import Dimension
from summit_contracts.events.q2q import Dimension as ContractDimension


def test_the_four_dimensions_match_the_contract():
    assert [d.value for d in domain.DIMENSIONS] == ["confidence", "belonging", "language_level_proxy", "job_readiness"]
    assert set(domain.DIMENSIONS) == set(get_args(ContractDimension))


def test_every_dimension_is_described_with_both_ends_of_its_scale():
    for dimension, spec in domain.TAXONOMY.items():
        assert spec.dimension is dimension
        assert spec.description and spec.low and spec.high and spec.low != spec.high


@pytest.mark.parametrize("name", ["confidence", "belonging", "language_level_proxy", "job_readiness"])
def test_parse_dimension_accepts_the_names(name):
    assert domain.parse_dimension(name) == Dimension(name)


@pytest.mark.parametrize("name", ["happiness", "Confidence", "lang_level_proxy", ""])
def test_parse_dimension_names_the_known_ones_when_it_refuses(name):
    with pytest.raises(ValueError, match="known dimensions: confidence, belonging"):
        domain.parse_dimension(name)


def test_the_lexicon_has_cues_pointing_up_and_down_on_every_dimension():
    model = lexicon.DEFAULT_LEXICON
    for dimension in domain.DIMENSIONS:
        cues = model.cues[dimension]
        assert any(c.target > 0.5 for c in cues), dimension
        assert any(c.target < 0.5 for c in cues), dimension
        assert all(0 <= c.target <= 1 and c.weight > 0 for c in cues)
        assert len({c.phrase for c in cues}) == len(cues), f"duplicate cue in {dimension}"


def test_a_cue_must_be_written_in_tokenised_form():
    with pytest.raises(ValueError, match="contractions expanded"):
        lexicon.Lexicon({Dimension.CONFIDENCE: (("don't worry", 0.8, 1.0),)})
    with pytest.raises(ValueError, match="target must be in"):
        lexicon.Lexicon({Dimension.CONFIDENCE: (("calm", 1.5, 1.0),)})
    with pytest.raises(ValueError, match="weight > 0"):
        lexicon.Lexicon({Dimension.CONFIDENCE: (("calm", 0.7, 0),)})
