"""Circuit breaker state machine (one per platform): closed -> open after K consecutive
failures -> half-open after the cooldown (one trial) -> closed on success, open again on failure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class Breaker:
    threshold: int
    cooldown: timedelta
    state: str = CLOSED
    failures: int = 0
    opened_at: datetime | None = None
    trial_in_flight: bool = False

    def allow(self, now: datetime) -> bool:
        """May a call go out now? In half-open, exactly one trial call is let through."""
        if self.state == OPEN:
            if self.opened_at is not None and now >= self.opened_at + self.cooldown:
                self.state, self.trial_in_flight = HALF_OPEN, False
            else:
                return False
        if self.state == HALF_OPEN:
            if self.trial_in_flight:
                return False
            self.trial_in_flight = True
        return True

    def record_success(self) -> None:
        self.state, self.failures, self.opened_at, self.trial_in_flight = CLOSED, 0, None, False

    def record_failure(self, now: datetime) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.threshold:
            self.state, self.opened_at, self.trial_in_flight = OPEN, now, False

    def release(self) -> None:
        """A trial call that ended neither in success nor in a platform failure (e.g. our 4xx)."""
        self.trial_in_flight = False

    def retry_at(self, now: datetime) -> datetime:
        """When a deferred call should be tried again."""
        if self.state == OPEN and self.opened_at is not None:
            return max(now, self.opened_at + self.cooldown)
        return now

    def view(self, now: datetime) -> dict:
        state = self.state
        if state == OPEN and self.opened_at is not None and now >= self.opened_at + self.cooldown:
            state = HALF_OPEN  # what allow() would turn it into
        return {"state": state, "consecutive_failures": self.failures,
                "opened_at": self.opened_at.isoformat() if self.opened_at else None,
                "retry_at": self.retry_at(now).isoformat() if state == OPEN else None}
