"""Declares the unified-profile service: what it consumes, emits and serves.

Consumes: every type in domain.RULES (kintell.*, buddy.*, upskilling.*), one handler for all.
Emits: orchestration.profile.updated.v1, orchestration.journey.milestone.reached.v1.
"""

from pathlib import Path

from services.unified_profile import api, domain, handlers, privacy, profiles
from summit_common import Service
from summit_common.privacy import PersonalData

service = Service(
    name="unified-profile",
    description="Unified participant profile: identity mapping, journey flags and milestones",
    handlers=dict.fromkeys(domain.RULES, handlers.on_journey_event),
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=(profiles.PROFILE_UPDATED, profiles.MILESTONE_REACHED),
    batch_order=handlers.lock_order,
    personal_data=PersonalData(categories=privacy.CATEGORIES, export=privacy.export_subject, erase=privacy.erase_subject),
)
