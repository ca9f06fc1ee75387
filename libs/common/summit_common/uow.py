"""The unit of work: one asyncpg transaction that holds a handler's state change,
its inbox row and its outbox rows. Nothing is kept unless the whole transaction commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from summit_common.logs import get_logger
from summit_contracts import REGISTRY, CloudEvent, new_event
from summit_contracts.registry import EventData

_propagator = TraceContextTextMapPropagator()
log = get_logger(component="uow")


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


@dataclass
class UnitOfWork:
    """What a handler or an HTTP command gets: a connection inside a transaction, and `emit`."""

    conn: asyncpg.Connection
    source: str
    tenant: str | None = None
    cause: CloudEvent | None = None
    correlationid: str | None = None
    pending: list[CloudEvent] = field(default_factory=list)
    deferred: dict[str, list[tuple]] = field(default_factory=dict)
    committed_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    precommit: dict[str, tuple[UnitOfWork, Callable[[UnitOfWork], Awaitable[None]]]] = field(default_factory=dict)

    def once_before_commit(self, key: str, work: Callable[[UnitOfWork], Awaitable[None]]) -> None:
        """Run `work(uow)` once per `key` for the whole pulled batch, just before it commits
        (after every handler and deferred write). For derived state that many events of a
        batch touch, e.g. recomputing one aggregate once instead of once per event."""
        self.precommit.setdefault(key, (self, work))

    def after_commit(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` once the transaction has committed (e.g. invalidate a read cache, so
        no reader can refill it with the old value). Hooks never run after a rollback;
        a failing hook is logged and does not undo the commit."""
        self.committed_hooks.append(hook)

    def defer(self, sql: str, *args: Any) -> None:
        """Queue a write that runs at commit, batched (executemany) with the same statement
        from the other events of the pulled batch. Use it for inserts and upserts that no
        later read in the same batch depends on; it turns N round trips into one pipeline."""
        self.deferred.setdefault(sql, []).append(args)

    def emit(self, event_type: str, data: EventData | dict[str, Any], *, subject: str | None = None, tenant: str | None = None) -> CloudEvent:
        """Queue an event for the outbox. It is validated now and published only after commit."""
        spec = REGISTRY.get(event_type)
        payload = data if isinstance(data, spec.model) else spec.validate(data if not isinstance(data, EventData) else data.model_dump(mode="json"))
        tenantid = tenant or self.tenant or (self.cause.tenantid if self.cause else None)
        if not tenantid:
            raise ValueError("an event needs a tenant")
        event = new_event(
            event_type,
            payload,
            source=self.source,
            tenantid=tenantid,
            subject=subject,
            correlationid=self.correlationid or (self.cause.correlationid if self.cause else None),
            causationid=self.cause.id if self.cause else None,
            traceparent=current_traceparent() or (self.cause.traceparent if self.cause else None),
        )
        self.pending.append(event)
        return event


async def run_committed_hooks(hooks: list[Callable[[], Awaitable[None]]]) -> None:
    for hook in hooks:
        try:
            await hook()
        except Exception as exc:
            log.warning("after_commit_hook_failed", error=type(exc).__name__)


Precommit = dict[str, tuple[UnitOfWork, Callable[[UnitOfWork], Awaitable[None]]]]


async def finish_writes(conn: asyncpg.Connection, deferred: dict[str, list[tuple]], precommit: Precommit) -> list[CloudEvent]:
    """Flush deferred writes, run the once-before-commit work, flush what that deferred.
    Returns the events the once-before-commit work emitted."""
    await flush_deferred(conn, deferred)
    emitted: list[CloudEvent] = []
    for uow, work in precommit.values():
        already = len(uow.pending)
        await work(uow)
        emitted.extend(uow.pending[already:])
    if precommit:
        await flush_deferred(conn, deferred)
    return emitted


async def flush_deferred(conn: asyncpg.Connection, deferred: dict[str, list[tuple]]) -> None:
    for sql, rows in deferred.items():
        await conn.executemany(sql, rows)


def span_context_of(event: CloudEvent):
    """The OpenTelemetry context an incoming event carries (CloudEvents distributed tracing)."""
    if not event.traceparent:
        return None
    return _propagator.extract({"traceparent": event.traceparent})


tracer = trace.get_tracer("summit")
