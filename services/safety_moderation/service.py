"""Declares safety-moderation: screens the free text of buddy and kintell events, emits
safety.text.screened.v1 for each (the gate q2q-ai waits on), raises flags into a human
review queue, and emits safety.flag.raised.v1 / safety.review.completed.v1. Answers data-subject
requests for the texts a person wrote (privacy.py)."""

from pathlib import Path

from services.safety_moderation import api, domain, handlers, policy, privacy
from summit_common import Service
from summit_common.privacy import PersonalData

# A broken policy file (SAFETY_POLICY_PATH) fails the start, not the first event.
policy.holder()

service = Service(
    name="safety-moderation",
    description="Screens free text against a reloadable content policy; held items wait for human review",
    handlers=dict.fromkeys(domain.CONTENT_FIELDS, handlers.on_text_event),
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=handlers.EMITS,
    personal_data=PersonalData(categories=privacy.CATEGORIES, export=privacy.export_subject, erase=privacy.erase_subject),
)
