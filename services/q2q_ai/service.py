"""Declares q2q-ai: the texts and safety events it consumes, its routes, migrations, and the
q2q.outcome.scored.v1 and q2q.evidence.recorded.v1 events it emits, and the personal data it holds.

The model provider is chosen here, from Q2Q_PROVIDER, when the service is loaded: a provider
that cannot run (the llm one without endpoint/key/model, the embedding one without its
package) raises ProviderConfigError and the service refuses to start.
"""

from pathlib import Path

from services.q2q_ai import api, handlers, privacy, providers
from services.q2q_ai.config import load_settings
from summit_common import Service
from summit_common.privacy import PersonalData

provider = providers.from_settings(load_settings())

service = Service(
    name="q2q-ai",
    description="Scores qualitative text on outcome dimensions (confidence, belonging, language level, job readiness) "
                "after the safety gate, citing masked evidence",
    handlers=handlers.Handlers(provider).table(),
    router=api.build_router(provider),
    migrations=Path(__file__).parent / "migrations",
    emits=(handlers.OUTCOME_SCORED, handlers.EVIDENCE_RECORDED),
    personal_data=PersonalData(categories=privacy.CATEGORIES, export=privacy.export_subject, erase=privacy.erase_subject),
)
