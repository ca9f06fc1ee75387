"""Per-runtime objects of impact-in: settings, the secret box, the clock, randomness, the
breakers and the OAuth token cache. Kept on `runtime.app.state.impact_in` so tests replace
the clock, the jitter source or the settings of one runtime without touching others."""

from __future__ import annotations

import asyncio
import functools
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter

from services.impact_in.crypto import SecretBox
from services.impact_in.domain.breaker import Breaker
from services.impact_in.settings import DEV_SECRET_KEY, ImpactInSettings
from summit_common.logs import get_logger

log = get_logger(component="impact-in")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    settings: ImpactInSettings
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.Random)
    random_bytes: Callable[[int], bytes] = os.urandom
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    breakers: dict[str, Breaker] = field(default_factory=dict)
    tokens: dict[tuple[str, str, str], tuple[str, datetime]] = field(default_factory=dict)
    pushes: Any = None  # Prometheus counter (platform, outcome) on the runtime's registry

    @property
    def box(self) -> SecretBox:
        return _box(self.settings.secret_key.get_secret_value())

    def breaker(self, platform: str) -> Breaker:
        if platform not in self.breakers:
            self.breakers[platform] = Breaker(threshold=self.settings.breaker_failures,
                                              cooldown=timedelta(seconds=self.settings.breaker_cooldown_seconds))
        return self.breakers[platform]


@functools.lru_cache(maxsize=4)
def _box(key_material: str) -> SecretBox:
    return SecretBox(key_material)


def of(runtime) -> Context:
    state = runtime.app.state
    if getattr(state, "impact_in", None) is None:
        settings = ImpactInSettings()
        if settings.secret_key.get_secret_value() == DEV_SECRET_KEY:
            log.warning("impact_in_dev_secret_key", hint="set IMPACT_IN_SECRET_KEY outside development")
        pushes = Counter("impact_in_pushes", "Delivery pushes by platform and outcome", ["platform", "outcome"],
                         registry=runtime.metrics.registry)
        state.impact_in = Context(settings=settings, pushes=pushes)
    return state.impact_in
