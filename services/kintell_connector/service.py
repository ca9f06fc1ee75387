"""Declares kintell-connector: no subscriptions (Kintell is reached over HTTP), the routes,
the migrations, and the three kintell.* events it emits."""

from pathlib import Path

from services.kintell_connector import api, ingest, privacy, profiles
from summit_common import Service
from summit_common.privacy import PersonalData

# A broken mapping file should fail the start, not the first import.
profiles.load_profiles()

service = Service(
    name="kintell-connector",
    description="Imports Kintell language and mentorship sessions and ratings (CSV and webhooks) and emits kintell.* events",
    handlers={},
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=ingest.EMITS,
    personal_data=PersonalData(categories=privacy.CATEGORIES, export=privacy.export_subject, erase=privacy.erase_subject),
)
