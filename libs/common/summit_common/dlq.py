"""The dead-letter stream: `dlq.<service>` holds events a service could not handle.

An entry keeps the original bytes, the reason, the error and the delivery count, so
an operator can read why and replay the event once the cause is fixed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from summit_common.bus import DLQ_DOMAIN, Naming


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    service: str
    subject: str
    reason: str
    error: str
    delivery_count: int
    failed_at: str
    original: bytes
    stream_seq: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "service": self.service,
            "subject": self.subject,
            "reason": self.reason,
            "error": self.error,
            "delivery_count": self.delivery_count,
            "failed_at": self.failed_at,
            "stream_seq": self.stream_seq,
            "size": len(self.original),
        }


def entry_body(*, service: str, msg: Msg, reason: str, error: str) -> bytes:
    meta = _metadata(msg)
    return json.dumps(
        {
            "service": service,
            "subject": msg.subject,
            "reason": reason,
            "error": error[:2000],
            "delivery_count": meta.num_delivered if meta else 1,
            "stream_seq": meta.sequence.stream if meta else None,
            "failed_at": datetime.now(UTC).isoformat(),
            "original_b64": base64.b64encode(msg.data).decode(),
        }
    ).encode()


def _metadata(msg: Msg):
    try:
        return msg.metadata
    except Exception:  # a plain (non-JetStream) message in unit tests
        return None


async def publish(js: JetStreamContext, naming: Naming, *, service: str, msg: Msg, reason: str, error: str) -> None:
    """Store the entry (awaiting the PubAck) before the caller terminates the original."""
    meta = _metadata(msg)
    dedupe = f"dlq:{service}:{msg.subject}:{meta.sequence.stream if meta else id(msg)}"
    await js.publish(
        naming.dlq_subject(service),
        entry_body(service=service, msg=msg, reason=reason, error=error),
        headers={"Nats-Msg-Id": dedupe},
    )


def _parse(seq: int, data: bytes) -> DeadLetter:
    body = json.loads(data)
    return DeadLetter(
        seq=seq,
        service=body["service"],
        subject=body["subject"],
        reason=body["reason"],
        error=body["error"],
        delivery_count=body["delivery_count"],
        failed_at=body["failed_at"],
        original=base64.b64decode(body["original_b64"]),
        stream_seq=body.get("stream_seq"),
    )


async def list_entries(js: JetStreamContext, naming: Naming, service: str | None = None, limit: int = 100) -> list[DeadLetter]:
    stream = naming.stream(DLQ_DOMAIN)
    subject = naming.dlq_subject(service) if service else f"{naming.prefix}{DLQ_DOMAIN}.>"
    entries: list[DeadLetter] = []
    seq = 0
    while len(entries) < limit:
        try:
            raw = await js.get_msg(stream, seq=seq + 1, subject=subject, next=True)
        except NotFoundError:
            break
        seq = raw.seq
        entries.append(_parse(raw.seq, raw.data))
    return entries


async def get_entry(js: JetStreamContext, naming: Naming, seq: int) -> DeadLetter:
    raw = await js.get_msg(naming.stream(DLQ_DOMAIN), seq=seq)
    return _parse(raw.seq, raw.data)


async def replay(js: JetStreamContext, naming: Naming, seq: int) -> DeadLetter:
    """Publish the original again to its subject, then remove the entry.

    The replay gets its own Nats-Msg-Id: the original one may still be inside the
    duplicate window. The inbox still de-duplicates by (source, id)."""
    entry = await get_entry(js, naming, seq)
    await js.publish(entry.subject, entry.original, headers={"Nats-Msg-Id": f"replay:{entry.service}:{seq}"})
    await js.delete_msg(naming.stream(DLQ_DOMAIN), seq)
    return entry
