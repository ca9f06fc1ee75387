"""Declares buddy-service: no subscriptions (buddy data arrives over HTTP as CSV or JSON),
the routes, the migrations, and the four buddy.* events it emits."""

from pathlib import Path

from services.buddy_service import api, ingest, privacy
from summit_common import Service
from summit_common.privacy import PersonalData

service = Service(
    name="buddy-service",
    description="Imports buddy-programme matches, shared events, check-ins and feedback (CSV and JSON) and emits buddy.* events",
    handlers={},
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=ingest.EMITS,
    personal_data=PersonalData(categories=privacy.CATEGORIES, export=privacy.export_subject, erase=privacy.erase_subject),
)
