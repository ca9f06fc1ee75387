"""Data-subject requests (DSAR) for unified-profile. The subject's profiles are every profile
of the tenant that any of the subject's refs is linked to: a merged profile reached through
one ref is the subject's profile, so it goes whole, with all its links, facts and milestones."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.unified_profile import store
from summit_common.privacy import subject_refs
from summit_contracts.events.privacy import DataSubject

CATEGORIES = {
    "profiles": "the unified profile(s): journey flags, counters, last activity, version, timestamps",
    "identities": "every external identity linked to those profiles (system, id, when and by whom it was linked)",
    "milestones": "journey milestones the profiles reached (name, when, triggering event type)",
    "applied_facts": "the business facts applied to the profiles (e.g. kintell.session.completed:<session id>)",
}


async def export_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
    profile_ids = await store.profiles_of_refs(conn, tenant=tenant, refs=subject_refs(subject))
    return await store.export_profiles(conn, profile_ids)


async def erase_subject(conn: asyncpg.Connection, tenant: str, subject: DataSubject) -> dict[str, int]:
    # FOR UPDATE: an event being applied to one of these profiles finishes first, or waits and then finds no profile.
    profile_ids = await store.profiles_of_refs(conn, tenant=tenant, refs=subject_refs(subject), lock=True)
    return await store.delete_profiles(conn, profile_ids)
