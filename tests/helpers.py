"""Helpers for integration tests: publish raw events and read what landed on a subject."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from nats.js import api
from nats.js.errors import FetchTimeoutError


async def read_subject(js, stream: str, subject: str, *, at_least: int = 0, timeout: float = 10.0, settle: float = 0.3) -> list:
    """All messages on `subject` (waits until `at_least` arrived, then a short settle for extras)."""
    sub = await js.pull_subscribe(subject, stream=stream, config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE))
    got = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                batch = await sub.fetch(100, timeout=settle if len(got) >= at_least else 0.5)
            except (FetchTimeoutError, TimeoutError):
                if len(got) >= at_least:
                    break
                continue
            got.extend(batch)
    finally:
        await sub.unsubscribe()
    return got


async def eventually(check, *, timeout: float = 15.0, interval: float = 0.05):
    """Poll an async check until it returns a truthy value (no timing assertions: only a deadline)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


async def pages_of(client, path: str, headers: dict, **params) -> list[list]:
    """Every page of a cursor-paginated list route, following `next_cursor` to the end."""
    pages, cursor = [], None
    while True:
        response = await client.get(path, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


class ManualClock:
    """A clock a test owns: calling it returns `now` (a datetime or monotonic seconds), which the
    test sets or moves on with `advance`."""

    def __init__(self, now: datetime | float) -> None:
        self.now = now

    def __call__(self) -> datetime | float:
        return self.now

    def advance(self, seconds: float) -> datetime | float:
        self.now = self.now + (timedelta(seconds=seconds) if isinstance(self.now, datetime) else seconds)
        return self.now
