"""The transactional outbox and its relay.

`write(conn, ...)` stores emitted events in the caller's transaction and NOTIFYs the
relay channel (delivered at commit). The relay wakes on that NOTIFY, on an in-process
signal, or on a poll tick, publishes unsent rows with `Nats-Msg-Id` = hash of the
event's (source, id), and marks them sent after the PubAck. A crash before the mark
re-publishes the same Nats-Msg-Id, which JetStream drops inside its duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import asyncpg
from nats.js.client import JetStreamContext

from summit_common.bus import Naming
from summit_common.logs import get_logger
from summit_common.metrics import Metrics
from summit_contracts import CloudEvent

log = get_logger(component="outbox")


def channel_for(schema: str) -> str:
    return f"outbox_{schema}"


async def write(conn: asyncpg.Connection, events: Sequence[CloudEvent], naming: Naming, channel: str) -> None:
    if not events:
        return
    # One statement for the whole batch (unnest) rather than a row-by-row executemany.
    await conn.execute(
        "INSERT INTO outbox (msg_id, subject, payload, traceparent)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[])",
        [e.msg_id for e in events],
        [naming.subject(e.type) for e in events],
        [e.to_json() for e in events],
        [e.traceparent for e in events],
    )
    await conn.execute("SELECT pg_notify($1, '')", channel)


class Relay:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        channel: str,
        metrics: Metrics,
        poll_seconds: float = 1.0,
        batch_size: int = 500,
        publish_timeout: float = 5.0,
    ) -> None:
        self._pool = pool
        self._js = js
        self._channel = channel
        self._metrics = metrics
        self._poll = poll_seconds
        self._batch = batch_size
        self._publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._stopping = False
        self._listen_conn: asyncpg.Connection | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        self._listen_conn = await self._pool.acquire()
        await self._listen_conn.add_listener(self._channel, self._on_notify)
        try:
            while not self._stopping:
                woken = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
                    woken = True
                self._wake.clear()
                try:
                    await self.drain()
                    if not woken:
                        await self._observe_backlog()
                except Exception as exc:  # keep relaying; rows stay unsent and are retried
                    log.warning("outbox_relay_failed", error=type(exc).__name__, detail=str(exc)[:200])
                    await asyncio.sleep(min(self._poll, 1.0))
        finally:
            with contextlib.suppress(Exception):
                await self._listen_conn.remove_listener(self._channel, self._on_notify)
            await self._pool.release(self._listen_conn)

    def stop(self) -> None:
        """Ask run() to finish its current pass and return; the caller then drains once more."""
        self._stopping = True
        self._wake.set()

    def _on_notify(self, *_args) -> None:
        self._wake.set()

    async def drain(self) -> int:
        total = 0
        while True:
            sent = await self.relay_once()
            total += sent
            if sent < self._batch:
                return total

    async def relay_once(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT seq, msg_id, subject, payload, traceparent FROM outbox"
                " WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch,
            )
            if not rows:
                return 0
            futures = []
            for row in rows:
                headers = {"Nats-Msg-Id": row["msg_id"]}
                if row["traceparent"]:
                    headers["traceparent"] = row["traceparent"]
                futures.append(await self._js.publish_async(row["subject"], bytes(row["payload"]), headers=headers))
            # Every PubAck must arrive before the rows are marked sent.
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self._publish_timeout)
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])", [r["seq"] for r in rows])
        self._metrics.outbox_published.inc(len(rows))
        return len(rows)

    async def _observe_backlog(self) -> None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
                " FROM outbox WHERE sent_at IS NULL"
            )
            # Sent rows are kept a day for inspection, then pruned.
            await conn.execute("DELETE FROM outbox WHERE sent_at < now() - interval '1 day'")
        self._metrics.outbox_backlog.set(row["n"])
        self._metrics.outbox_age.set(float(row["age"]))
