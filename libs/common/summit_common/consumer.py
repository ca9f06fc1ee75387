"""Durable JetStream pull consumers that turn at-least-once delivery into
effectively-once effects.

One durable consumer per (service, event type), so N replicas share the work. (One
filter subject per consumer works on every NATS 2.x server; multi-filter consumers
need 2.10+.) A pulled batch is decoded, then handled in ONE
transaction together with its inbox rows and outbox rows; per-message commits would
cap a service at a few thousand events/s on small hardware. If the batch fails, each
message is retried alone so one poison event cannot block its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from nats.aio.msg import Msg
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import FetchTimeoutError
from opentelemetry import trace

from summit_common import dlq, erasure, logs, outbox, tracing
from summit_common.bus import Naming
from summit_common.logs import get_logger
from summit_common.metrics import Metrics
from summit_common.settings import Settings
from summit_common.uow import Precommit, UnitOfWork, finish_writes, run_committed_hooks, span_context_of, tracer
from summit_contracts import REGISTRY, CloudEvent, EnvelopeError, EventDataError, UnknownEventType
from summit_contracts.registry import EventData

D = TypeVar("D", bound=EventData)
log = get_logger(component="consumer")


@dataclass(frozen=True)
class Incoming(Generic[D]):
    """A decoded event: the envelope and its validated, typed data."""

    envelope: CloudEvent
    data: D

    @property
    def tenant(self) -> str:
        return self.envelope.tenantid or ""


Handler = Callable[[Incoming[Any], UnitOfWork], Awaitable[None]]


# Failures of the infrastructure, not of the event: retried with backoff but never
# dead-lettered for that reason, so a Postgres outage does not empty a queue into the DLQ.
TRANSIENT_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
# A message delivered this many times more than max_deliver is dead-lettered before its
# handler runs: it is crash-looping the process or outliving every transient outage.
CRASH_LOOP_FACTOR = 4


class PermanentError(Exception):
    """Raised by a handler for an event that can never succeed: dead-lettered at once, no retries."""


@dataclass
class _Item:
    msg: Msg
    incoming: Incoming[Any]

    @property
    def key(self) -> str:
        return self.incoming.envelope.msg_id


class _Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def decode(raw: bytes, subject: str, naming: Naming, handlers: Mapping[str, Handler]) -> Incoming[Any]:
    """Pure: bytes -> Incoming, or _Rejected with a reason an operator can act on."""
    try:
        envelope = CloudEvent.from_json(raw)
    except EnvelopeError as exc:
        raise _Rejected("invalid_envelope", str(exc)) from None
    subject_type = naming.event_type(subject)
    if envelope.type != subject_type:
        raise _Rejected("type_subject_mismatch", f"type {envelope.type!r} published on subject for {subject_type!r}")
    if envelope.type not in handlers:
        try:
            REGISTRY.get(envelope.type)
        except UnknownEventType as exc:
            raise _Rejected("unknown_type", str(exc)) from None
        raise _Rejected("unhandled_type", f"no handler for {envelope.type!r}")
    if not envelope.tenantid:
        raise _Rejected("missing_tenant", "the tenantid extension attribute is required")
    try:
        data = REGISTRY.get(envelope.type).validate(envelope.data)
    except EventDataError as exc:
        raise _Rejected("invalid_data", str(exc)) from None
    return Incoming(envelope=envelope, data=data)


def _trace_id(span, envelope: CloudEvent) -> str | None:
    if span is None:  # tracing off: the trace the event belongs to, from its traceparent
        return envelope.traceparent[3:35] if envelope.traceparent else None
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class Consumer:
    def __init__(
        self,
        *,
        service: str,
        event_type: str,
        handler: Handler,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        naming: Naming,
        settings: Settings,
        metrics: Metrics,
        outbox_channel: str,
        on_emitted: Callable[[], None],
        batch_order: Callable[[Incoming[Any]], str] | None = None,
        skip_erased: bool = False,
    ) -> None:
        self.service = service
        self.event_type = event_type
        self.handlers = {event_type: handler}
        self._handler = handler
        self._span_name = f"handle {event_type}"
        self._js = js
        self._pool = pool
        self._naming = naming
        self._settings = settings
        self._metrics = metrics
        self._channel = outbox_channel
        self._on_emitted = on_emitted
        self._batch_order = batch_order
        self._skip_erased = skip_erased
        self.durable = naming.durable(service, event_type)
        self._stopping = asyncio.Event()
        self._sub = None
        self._want = settings.batch_size  # start by draining any backlog in full batches

    def consumer_config(self) -> api.ConsumerConfig:
        s = self._settings
        return api.ConsumerConfig(
            durable_name=self.durable,
            name=self.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=s.ack_wait_seconds,
            # Redelivery is unlimited on the server; the chassis dead-letters after
            # settings.max_deliver, so even a crash-looping message ends in the DLQ.
            max_deliver=-1,
            max_ack_pending=max(1000, s.batch_size * 10),
            filter_subject=self._naming.subject(self.event_type),
        )

    async def start(self) -> None:
        stream = self._naming.stream(self.event_type.split(".", 1)[0])
        await self._js.add_consumer(stream, config=self.consumer_config())
        self._sub = await self._js.pull_subscribe_bind(durable=self.durable, stream=stream)

    async def run(self) -> None:
        """Fetch the next batch while the current one is handled, so waiting on NATS
        overlaps waiting on Postgres. Stopping finishes the batch in hand and the one
        already fetched; nothing fetched is left to time out."""
        assert self._sub is not None, "start() first"
        next_batch = asyncio.create_task(self._fetch())
        while True:
            msgs = await next_batch
            stopping = self._stopping.is_set()
            if not stopping:
                next_batch = asyncio.create_task(self._fetch())
            try:
                await self.process(msgs)
            except Exception as exc:  # e.g. NATS gone while acking: unacked messages come back after ack_wait
                log.error("batch_processing_failed", consumer=self.durable, error=type(exc).__name__)
            if stopping:
                break
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

    async def _fetch(self) -> list[Msg]:
        """A pull for N messages lingers until N arrive or it expires, so asking for a full
        batch when the stream is idle would add up to fetch_timeout of latency. Ask for one
        message while caught up (it returns as soon as one arrives) and for full batches
        while the last pull came back full (a backlog)."""
        want = self._want
        try:
            msgs = await self._sub.fetch(want, timeout=self._settings.fetch_timeout_seconds)
        except (FetchTimeoutError, TimeoutError):
            self._want = 1
            return []
        except Exception as exc:  # connection blips: back off, the server keeps the messages
            if not self._stopping.is_set():
                log.warning("fetch_failed", consumer=self.durable, error=type(exc).__name__)
                await asyncio.sleep(0.5)
            return []
        self._want = self._settings.batch_size if len(msgs) >= want else 1
        return msgs

    async def stop(self) -> None:
        self._stopping.set()

    async def process(self, msgs: list[Msg]) -> None:
        items: list[_Item] = []
        for msg in msgs:
            meta = msg.metadata
            if meta.num_delivered > self._settings.max_deliver * CRASH_LOOP_FACTOR:
                await self._dead_letter(msg, "max_deliveries", f"delivered {meta.num_delivered} times")
                continue
            try:
                items.append(_Item(msg, decode(msg.data, msg.subject, self._naming, self.handlers)))
            except _Rejected as rejected:
                await self._dead_letter(msg, rejected.reason, str(rejected))
        if msgs:
            self._metrics.pending(consumer=self.durable).set(msgs[-1].metadata.num_pending)
        if not items:
            return
        if self._batch_order is not None:
            items.sort(key=lambda item: self._batch_order(item.incoming))
        started = time.perf_counter()
        try:
            await self._commit(items)
        except Exception as exc:
            if len(items) == 1:
                await self._on_failure(items[0], exc)
            else:
                log.info("batch_failed_retrying_one_by_one", consumer=self.durable, size=len(items), error=type(exc).__name__)
                await self._one_by_one(items)
        else:
            for item in items:
                await item.msg.ack()
        finally:
            self._metrics.handler_seconds.observe((time.perf_counter() - started) / len(items))

    async def _one_by_one(self, items: list[_Item]) -> None:
        for item in items:
            try:
                await self._commit([item])
            except Exception as exc:
                await self._on_failure(item, exc)
            else:
                await item.msg.ack()

    async def _commit(self, items: list[_Item]) -> None:
        emitted: list[CloudEvent] = []
        deferred: dict[str, list[tuple]] = {}
        precommit: Precommit = {}
        hooks: list = []
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "INSERT INTO inbox (msg_key, event_type) SELECT * FROM unnest($1::text[], $2::text[])"
                " ON CONFLICT DO NOTHING RETURNING msg_key",
                [i.key for i in items],
                [i.incoming.envelope.type for i in items],
            )
            fresh = {r["msg_key"] for r in rows}
            erased = await self._erased(conn, [i for i in items if i.key in fresh]) if self._skip_erased else set()
            duplicates = 0
            for item in items:
                if item.key not in fresh:
                    duplicates += 1
                    continue
                fresh.discard(item.key)  # the same event twice in one batch runs once
                if item.key in erased:
                    log.info("skipped_erased_subject", event_id=item.incoming.envelope.id, event_type=self.event_type)
                    continue
                emitted.extend(await self._handle(conn, item, deferred, precommit, hooks))
            emitted.extend(await finish_writes(conn, deferred, precommit))
            await outbox.write(conn, emitted, self._naming, self._channel)
        await run_committed_hooks(hooks)
        self._metrics.handled(type=self.event_type).inc(len(items) - duplicates)  # one type per consumer
        if duplicates:
            self._metrics.duplicates.inc(duplicates)
        if emitted:
            self._on_emitted()

    @staticmethod
    async def _erased(conn: asyncpg.Connection, items: list[_Item]) -> set[str]:
        """Keys of events about an erased person, created before the erasure: not applied again."""
        hits = await erasure.suppressed(conn, [(i.incoming.envelope, i.incoming.data) for i in items])
        return {items[i].key for i in hits}

    async def _handle(self, conn: asyncpg.Connection, item: _Item, deferred: dict[str, list[tuple]],
                      precommit: Precommit, hooks: list) -> list[CloudEvent]:
        envelope = item.incoming.envelope
        uow = UnitOfWork(conn=conn, source=self.service, cause=envelope, deferred=deferred,
                         precommit=precommit, committed_hooks=hooks)
        span_scope = (tracer.start_as_current_span(self._span_name, context=span_context_of(envelope),
                                                   kind=trace.SpanKind.CONSUMER)
                      if tracing.active() else contextlib.nullcontext())
        with span_scope as span:
            if span is not None and span.is_recording():
                span.set_attribute("messaging.message.id", envelope.id)
            token = logs.handling.set((envelope, _trace_id(span, envelope)))
            try:
                await self._handler(item.incoming, uow)
            finally:
                logs.handling.reset(token)
        return uow.pending

    async def _on_failure(self, item: _Item, exc: Exception) -> None:
        envelope = item.incoming.envelope
        self._metrics.failed(type=envelope.type).inc()
        if isinstance(exc, PermanentError):
            await self._dead_letter(item.msg, "rejected_by_handler", str(exc))
            return
        attempt = item.msg.metadata.num_delivered
        if attempt >= self._settings.max_deliver and not isinstance(exc, TRANSIENT_ERRORS):
            await self._dead_letter(item.msg, "handler_failed", f"{type(exc).__name__}: {exc}")
            return
        backoff = self._settings.retry_backoff_seconds
        delay = backoff[min(attempt - 1, len(backoff) - 1)] if backoff else 0
        log.warning("handler_failed", event_id=envelope.id, event_type=envelope.type, attempt=attempt,
                    error=type(exc).__name__, retry_in=delay)
        await item.msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, reason: str, error: str) -> None:
        log.warning("dead_lettered", subject=msg.subject, reason=reason)
        await dlq.publish(self._js, self._naming, service=self.service, msg=msg, reason=reason, error=error)
        self._metrics.dead_lettered(reason=reason).inc()
        with contextlib.suppress(Exception):
            await msg.term()
