"""Idempotency keys and retry backoff."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime


def idempotency_key(tenant: str, platform: str, metric_id: str, computed_at: datetime) -> str:
    """Stable per (tenant, platform, figures version): a redelivered event maps to the same key,
    and a replay re-sends under it, so the partner can de-duplicate."""
    raw = "\x1f".join([tenant, platform, metric_id, computed_at.isoformat()])
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def backoff_seconds(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped.
    attempt 1 -> ~base, attempt 2 -> ~2*base ... Deterministic when rng is seeded."""
    exp = min(cap, base * (2 ** max(attempt - 1, 0)))
    r = (rng or random).random()
    return exp / 2 + r * exp / 2
