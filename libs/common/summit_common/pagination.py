"""Cursor pagination: opaque, URL-safe cursors over a (sort key, id) pair."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from summit_common.problems import Problem

MAX_LIMIT = 200


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned") from None
    if not isinstance(value, list):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    return value


def clamp_limit(limit: int) -> int:
    if limit < 1 or limit > MAX_LIMIT:
        raise Problem(400, "invalid limit", f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def decode_time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """A keyset cursor over (timestamp, id), as lists sorted newest first issue it."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        at, ident = key
        return datetime.fromisoformat(at), str(ident)
    except (TypeError, ValueError):
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned") from None


def as_utc(value: datetime | None) -> datetime | None:
    """Query-string times without an offset are read as UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
