"""Pure logic: redaction, periods, narrative, citations, evidence hash, share-link tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.reporting import domain, generators, share_links
from services.reporting.config import ReportingSettings


def ev(i: int, dims=("confidence",), program="buddy") -> domain.Evidence:
    return domain.Evidence(evidence_id=f"ev-{i:04d}", snippet=f"I feel better now {i}", snippet_sha256=f"{i:064x}",
                           dimensions=tuple(dims), program=program)


EVIDENCE = [ev(i, dims=(domain.DIMENSIONS[i % 4],), program=("buddy", "kintell")[i % 2]) for i in range(40)]
METRICS = {"metric_id": "m1", "sroi_ratio": 3.2, "social_value": 123456.5, "investment": 38000.0, "vis_score": 61.5}


@pytest.mark.parametrize("text,expected", [
    ("write to ola.nordmann@example.no today", "write to [email] today"),
    ("call +47 912 34 567 please", "call [phone] please"),
    ("see https://example.com/form?user=42 now", "see [url] now"),
    ("I talked with Anna Berg yesterday", "I talked with [name] yesterday"),
    ("My mentor Dr. Smith helped", "My mentor [name] helped"),
    ("In 2026-Q1 we scored 1,234.56 on 2026-03-01", "In 2026-Q1 we scored 1,234.56 on 2026-03-01"),
    ("Confidence grew a lot", "Confidence grew a lot"),
])
def test_redact(text, expected):
    assert domain.redact(text) == expected


def test_pii_hits_finds_each_kind_and_ignores_figures():
    assert domain.pii_hits("mail a@b.co") == ["email"]
    assert domain.pii_hits("ring 0047 22 33 44 55") == ["phone"]
    assert domain.pii_hits("https://x.io/?token=1") == ["url_with_query"]
    assert domain.pii_hits("value 123456.78 and 61.5 of 100 in 2026-03") == []


def test_periods():
    assert domain.period_bounds("2026-Q2") == (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
    assert domain.period_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert domain.period_bounds("2026") == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    for bad in ("2026-Q5", "2026-13", "26-Q1", "2026-Q1x", ""):
        assert domain.period_bounds(bad) is None
    now = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    assert domain.period_just_ended("monthly", now) == "2025-12"
    assert domain.period_just_ended("quarterly", now) == "2025-Q4"
    assert domain.next_run_at("quarterly", datetime(2026, 11, 5, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert domain.next_run_at("monthly", datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 2, 1, tzinfo=UTC)
    assert domain.quarter_of(datetime(2026, 9, 30, 23, tzinfo=UTC)) == "2026-Q3"


def test_pseudonym_is_keyed_stable_and_tenant_scoped():
    a = domain.pseudonym("k", "acme", "kintell", "P-1")
    assert a == domain.pseudonym("k", "acme", "kintell", "P-1")
    assert a != domain.pseudonym("k", "globex", "kintell", "P-1") != domain.pseudonym("k2", "acme", "kintell", "P-1")
    assert "P-1" not in a and len(a) == 64


@given(st.lists(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), min_size=1, max_size=20), st.randoms())
def test_evidence_hash_ignores_order_and_duplicates(hashes, rnd):
    shuffled = list(hashes)
    rnd.shuffle(shuffled)
    assert domain.evidence_hash(hashes) == domain.evidence_hash(shuffled + shuffled[:1])


@pytest.mark.parametrize("template", domain.TEMPLATES)
def test_narrative_is_deterministic_and_every_paragraph_cites_known_evidence(template):
    out = domain.build_narrative(template, "2026-Q1", METRICS, EVIDENCE, seed=7)
    again = domain.build_narrative(template, "2026-Q1", METRICS, list(reversed(EVIDENCE)), seed=7)
    assert out == again
    assert [s["title"] for s in out["sections"]] == list(domain.SECTION_PLANS[template])
    assert domain.citation_problems(out["sections"], {e.evidence_id for e in EVIDENCE}) == []
    assert domain.narrative_pii(out["sections"]) == []
    for section in out["sections"]:
        for p in section["paragraphs"]:
            assert all(f"[{c}]" in p["text"] for c in p["citations"])
    assert out["charts"][0]["data"] == {"belonging": 10, "confidence": 10, "job_readiness": 10, "language_level_proxy": 10}


def test_narrative_changes_with_seed_and_needs_evidence():
    a = domain.build_narrative("quarterly", "2026-Q1", None, EVIDENCE, seed=1)
    b = domain.build_narrative("quarterly", "2026-Q1", None, EVIDENCE, seed=2)
    assert domain.cited_ids(a["sections"]) != domain.cited_ids(b["sections"])
    assert [c["chart"] for c in a["charts"]] == ["outcome_counts"]  # no metrics: no SROI chart
    with pytest.raises(ValueError):
        domain.build_narrative("quarterly", "2026-Q1", None, [], seed=1)


def test_citation_problems():
    sections = [{"title": "A", "paragraphs": [{"text": "x", "citations": ["ev-1"]}, {"text": "y", "citations": []}]},
                {"title": "B", "paragraphs": [{"text": "z", "citations": ["nope"]}]}]
    problems = domain.citation_problems(sections, {"ev-1"})
    assert len(problems) == 2 and "cites no evidence" in problems[0] and "nope" in problems[1]


def test_share_link_tokens():
    expires = datetime(2026, 4, 1, tzinfo=UTC)
    token = share_links.sign("s", "link-1", expires)
    claims = share_links.verify("s", token)
    assert claims.link_id == "link-1" and claims.expires_at == expires
    with pytest.raises(share_links.BadToken):
        share_links.verify("other", token)
    payload, _, sig = token.partition(".")
    forged = share_links.sign("s", "link-2", expires + timedelta(days=9)).partition(".")[0]
    for bad in (f"{forged}.{sig}", payload, "", "x.y", token + "A"):
        with pytest.raises(share_links.BadToken):
            share_links.verify("s", bad)


async def test_llm_generator_with_mock_provider_records_tokens_cost_and_prompt_version():
    seen = {}

    def provider(request: httpx.Request) -> httpx.Response:
        seen.update(json.loads(request.content))
        content = {"sections": [{"title": "Summary", "paragraphs": [{"text": "Confidence grew.", "citations": ["ev-0000"]}]}]}
        return httpx.Response(200, json={"choices": [{"message": {"content": json.dumps(content)}}],
                                         "usage": {"prompt_tokens": 900, "completion_tokens": 100}})

    cfg = ReportingSettings(generator="llm", llm_endpoint="http://llm/v1/chat/completions", llm_model="m",
                            llm_token_budget=8000, llm_cost_per_1k_in=0.5, llm_cost_per_1k_out=1.5)
    gen = generators.LlmGenerator(cfg, httpx.AsyncClient(transport=httpx.MockTransport(provider)))
    out = await gen.generate(template="quarterly", period="2026-Q1", metrics=METRICS, evidence=EVIDENCE, seed=42)
    assert out.tokens_in == 900 and out.tokens_out == 100 and out.cost == pytest.approx(0.6)
    assert out.prompt_version == generators.PROMPT_VERSION and out.generator == "llm:m"
    assert seen["seed"] == 42 and seen["temperature"] == 0 and seen["max_tokens"] < 8000
    assert out.sections[0]["paragraphs"][0]["citations"] == ["ev-0000"]

    small = ReportingSettings(generator="llm", llm_endpoint="http://llm", llm_token_budget=256)
    with pytest.raises(generators.GenerationRefused, match="token budget"):
        await generators.LlmGenerator(small, gen.client).generate(
            template="quarterly", period="2026-Q1", metrics=METRICS, evidence=EVIDENCE, seed=1)

    def broken(request):
        return httpx.Response(200, json={"choices": [{"message": {"content": "not json"}}]})

    with pytest.raises(generators.GenerationRefused, match="expected JSON"):
        await generators.LlmGenerator(cfg, httpx.AsyncClient(transport=httpx.MockTransport(broken))).generate(
            template="quarterly", period="2026-Q1", metrics=METRICS, evidence=EVIDENCE, seed=1)
