"""JetStream naming and provisioning.

One stream per owning domain (subjects `<domain>.>`), file storage, an explicit
duplicate window for `Nats-Msg-Id` de-duplication, plus one dead-letter stream
(`dlq.<service>`). A subject prefix lets tests and environments share one server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nats
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError

DLQ_DOMAIN = "dlq"


@dataclass(frozen=True)
class Naming:
    """Turns event types and service names into subjects, stream and consumer names."""

    prefix: str = ""

    def subject(self, event_type: str) -> str:
        return f"{self.prefix}{event_type}"

    def event_type(self, subject: str) -> str:
        return subject[len(self.prefix):] if self.prefix and subject.startswith(self.prefix) else subject

    def stream(self, domain: str) -> str:
        return _token(f"{self.prefix}{domain}").upper()

    def domain_subjects(self, domain: str) -> str:
        return f"{self.prefix}{domain}.>"

    def dlq_subject(self, service: str) -> str:
        return f"{self.prefix}{DLQ_DOMAIN}.{service}"

    def durable(self, service: str, event_type: str) -> str:
        return _token(f"{service}__{event_type}")


def _token(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text).strip("_")


async def connect(url: str, *, name: str) -> nats.NATS:
    return await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5)


async def ensure_stream(
    js: JetStreamContext,
    naming: Naming,
    domain: str,
    *,
    replicas: int = 1,
    duplicate_window: float = 120.0,
    max_age_seconds: float | None = None,
) -> None:
    """Create or update the stream of one domain; safe to call from every replica at start."""
    config = api.StreamConfig(
        name=naming.stream(domain),
        subjects=[naming.domain_subjects(domain)],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        num_replicas=replicas,
        duplicate_window=duplicate_window,
        max_age=max_age_seconds,
        allow_direct=True,
    )
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        # 10058: exists with a different config -> update in place. 10065 (subjects overlap):
        # another replica is creating this very stream right now -> it exists once that is done.
        if exc.err_code == 10065:
            await js.stream_info(config.name)  # NotFoundError: a different stream owns the subjects
        elif exc.err_code != 10058:
            raise
        await js.update_stream(config)


async def ensure_streams(js: JetStreamContext, naming: Naming, domains, *, replicas: int, duplicate_window: float,
                         max_age_days: float = 0) -> None:
    max_age = max_age_days * 86400 or None
    for domain in sorted(set(domains)):
        await ensure_stream(js, naming, domain, replicas=replicas, duplicate_window=duplicate_window, max_age_seconds=max_age)
    await ensure_stream(
        js, naming, DLQ_DOMAIN, replicas=replicas, duplicate_window=duplicate_window, max_age_seconds=30 * 86400
    )
