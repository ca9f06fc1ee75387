"""Identifiers that Summit mints: UUIDv7, so ids sort by creation time."""

import uuid

import uuid6


def new_id() -> str:
    """A new time-ordered UUIDv7 as a string."""
    return str(uuid6.uuid7())


def is_uuid(text: str) -> bool:
    """True when `text` is a UUID (an id Summit minted could be it); routes 404 other ids early."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
