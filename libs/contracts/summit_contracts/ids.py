"""Identifiers that Summit mints: UUIDv7, so ids sort by creation time."""

import uuid6


def new_id() -> str:
    """A new time-ordered UUIDv7 as a string."""
    return str(uuid6.uuid7())
