"""The service declaration: what the catalogue says about it, and a provider that cannot run
stopping the service from starting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.q2q_ai.service import provider, service
from summit_common.catalog import http_routes
from summit_common.privacy import PRIVACY_EMITS

ROOT = Path(__file__).resolve().parents[3]
ROUTES = {("/v1/outcomes", "GET"), ("/v1/outcomes/{score_id}", "GET"), ("/v1/evidence/{evidence_id}", "GET"),
          ("/v1/analyse", "POST")}


def test_catalogue_sees_every_route_and_event():
    assert {(r["path"], m) for r in http_routes(service) for m in r["methods"]} == ROUTES
    assert set(service.emits) == {"q2q.outcome.scored.v1", "q2q.evidence.recorded.v1", *PRIVACY_EMITS}
    assert set(service.handlers) == {"privacy.export.requested.v1", "privacy.deletion.requested.v1",
        "buddy.feedback.submitted.v1", "buddy.checkin.completed.v1", "kintell.session.completed.v1",
        "kintell.rating.created.v1", "safety.text.screened.v1", "safety.review.completed.v1",
    }
    assert service.name == "q2q-ai" and service.schema == "q2q_ai"


def test_the_default_provider_is_the_lexicon():
    assert provider.name == "lexicon"


def _load_service(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("Q2Q_")}
    return subprocess.run([sys.executable, "-c", "import services.q2q_ai.service"], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"Q2Q_PROVIDER": "llm", "Q2Q_LLM_API_KEY": "sk-do-not-print-me", "Q2Q_LLM_MODEL": "m"}, "Q2Q_LLM_ENDPOINT is not set"),
        ({"Q2Q_PROVIDER": "llm", "Q2Q_LLM_ENDPOINT": "https://llm.example/v1", "Q2Q_LLM_MODEL": "m"}, "Q2Q_LLM_API_KEY is not set"),
        ({"Q2Q_PROVIDER": "embedding", "Q2Q_EMBEDDING_PACKAGE": "no_such_model_package"}, "no_such_model_package"),
        ({"Q2Q_PROVIDER": "gpt"}, "Q2Q_PROVIDER"),
    ],
)
def test_a_provider_that_cannot_run_stops_the_service_from_starting(env, problem):
    result = _load_service(**env)
    assert result.returncode != 0
    assert problem in result.stderr or problem.lower() in result.stderr.lower()
    assert "sk-do-not-print-me" not in result.stderr + result.stdout


def test_a_configured_llm_provider_starts_without_calling_anything():
    result = _load_service(Q2Q_PROVIDER="llm", Q2Q_LLM_ENDPOINT="https://llm.invalid/v1/chat/completions",
                           Q2Q_LLM_API_KEY="sk-do-not-print-me", Q2Q_LLM_MODEL="m")
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
async def test_docs_and_readiness(client):
    doc = (await client.get("/openapi.json")).json()
    assert {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops} >= ROUTES
    assert (await client.get("/readyz")).json()["ready"] is True
    asyncapi = (await client.get("/asyncapi.json")).json()
    assert "q2q.outcome.scored.v1" in str(asyncapi)
