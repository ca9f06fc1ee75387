"""Declares upskilling-connector: no subscriptions (providers reach us through uploaded exports),
the routes, the migrations, and the three upskilling.* events it emits."""

from pathlib import Path

from services.upskilling_connector import api, domain, privacy, providers
from summit_common import Service
from summit_common.privacy import PersonalData

# A broken provider adapter should fail the start, not the first import.
providers.default_registry()

service = Service(
    name="upskilling-connector",
    description="Imports course completions, credentials and progress from learning providers (one adapter per provider)"
    " and emits upskilling.* events",
    handlers={},
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=domain.EMITS,
    personal_data=PersonalData(categories=privacy.CATEGORIES, export=privacy.export_subject, erase=privacy.erase_subject),
)
