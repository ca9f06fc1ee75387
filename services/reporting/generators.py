"""Narrative generators. The default is deterministic (domain.build_narrative, no network).
The language-model option posts a versioned prompt to an OpenAI-compatible chat-completions
endpoint, within a token budget, and reports tokens and cost. Both receive evidence that is
already redacted; the caller checks citations and scans the output for PII afterwards."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from services.reporting import domain
from services.reporting.config import ReportingSettings

# Prompt templates are versioned: the version is stored on every report they produced.
PROMPT_VERSION = "2026-11-01.1"
SYSTEM_PROMPT = (
    "You write corporate social-impact reports. Use only the figures and evidence given. "
    "Answer with JSON: {\"sections\": [{\"title\": str, \"paragraphs\": [{\"text\": str, \"citations\": [evidence_id]}]}]}. "
    "Every paragraph cites at least one evidence_id from the list. Never include names, emails, phone numbers or links."
)
USER_PROMPT = (
    "Template: {template}\nPeriod: {period}\nSections: {sections}\nMetrics: {metrics}\n"
    "Evidence (id | outcomes | text):\n{evidence}"
)


@dataclass
class Generated:
    sections: list[dict[str, Any]]
    charts: list[dict[str, Any]]
    generator: str
    prompt_version: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class GenerationRefused(Exception):
    """The generator cannot produce this report (budget, bad provider output): a 422."""


class Generator(Protocol):
    async def generate(self, *, template: str, period: str, metrics: Mapping[str, Any] | None,
                       evidence: Sequence[domain.Evidence], seed: int) -> Generated: ...


class DeterministicGenerator:
    async def generate(self, *, template, period, metrics, evidence, seed) -> Generated:
        try:
            out = domain.build_narrative(template, period, metrics, evidence, seed)
        except ValueError as exc:
            raise GenerationRefused(str(exc)) from None
        return Generated(sections=out["sections"], charts=out["charts"], generator=domain.GENERATOR_VERSION)


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class LlmGenerator:
    """Chat-completions client. `client` is injectable (tests pass an httpx.MockTransport)."""

    MAX_EVIDENCE_IN_PROMPT = 200

    def __init__(self, cfg: ReportingSettings, client: httpx.AsyncClient | None = None) -> None:
        self.cfg = cfg
        self.client = client

    def prompt(self, *, template, period, metrics, evidence) -> list[dict[str, str]]:
        lines = [f"{ev.evidence_id} | {','.join(ev.dimensions)} | {domain.preview(ev.snippet, 200)}"
                 for ev in sorted(evidence, key=lambda e: e.evidence_id)[: self.MAX_EVIDENCE_IN_PROMPT]]
        user = USER_PROMPT.format(template=template, period=period, sections=", ".join(domain.SECTION_PLANS[template]),
                                  metrics=json.dumps(metrics or {}, default=str, sort_keys=True), evidence="\n".join(lines))
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    async def generate(self, *, template, period, metrics, evidence, seed) -> Generated:
        if not evidence:
            raise GenerationRefused("no evidence to cite")
        messages = self.prompt(template=template, period=period, metrics=metrics, evidence=evidence)
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        room = self.cfg.llm_token_budget - prompt_tokens
        if room < 128:
            raise GenerationRefused(f"the prompt (~{prompt_tokens} tokens) does not fit the token budget {self.cfg.llm_token_budget}")
        body = {"model": self.cfg.llm_model, "messages": messages, "temperature": 0, "seed": seed, "max_tokens": room,
                "response_format": {"type": "json_object"}}
        client = self.client or httpx.AsyncClient(timeout=self.cfg.llm_timeout_seconds)
        try:
            r = await client.post(self.cfg.llm_endpoint, json=body, headers={"Authorization": f"Bearer {self.cfg.llm_api_key}"})
        except httpx.HTTPError as exc:
            raise GenerationRefused(f"language-model provider unreachable: {type(exc).__name__}") from None
        finally:
            if self.client is None:
                await client.aclose()
        if r.status_code != 200:
            raise GenerationRefused(f"language-model provider answered {r.status_code}")
        try:
            payload = r.json()
            content = json.loads(payload["choices"][0]["message"]["content"])
            sections = [{"title": str(s["title"]),
                         "paragraphs": [{"text": str(p["text"]), "citations": [str(c) for c in p.get("citations", [])]}
                                        for p in s["paragraphs"]]} for s in content["sections"]]
            usage = payload.get("usage") or {}
        except (ValueError, KeyError, TypeError, IndexError):
            raise GenerationRefused("the language-model output is not the expected JSON") from None
        tokens_in = int(usage.get("prompt_tokens", prompt_tokens))
        tokens_out = int(usage.get("completion_tokens", 0))
        if tokens_in + tokens_out > self.cfg.llm_token_budget:
            raise GenerationRefused(f"the provider used {tokens_in + tokens_out} tokens, over the budget {self.cfg.llm_token_budget}")
        cost = tokens_in / 1000 * self.cfg.llm_cost_per_1k_in + tokens_out / 1000 * self.cfg.llm_cost_per_1k_out
        charts = domain.build_narrative(template, period, metrics, evidence, seed)["charts"]
        return Generated(sections=sections, charts=charts, generator=f"llm:{self.cfg.llm_model}",
                         prompt_version=PROMPT_VERSION, tokens_in=tokens_in, tokens_out=tokens_out, cost=round(cost, 6))


def from_settings(cfg: ReportingSettings) -> Generator:
    return LlmGenerator(cfg) if cfg.generator == "llm" else DeterministicGenerator()
