"""ServiceRuntime: runs one declared Service against real NATS and Postgres.

Start order: pool -> migrations -> NATS -> streams -> consumers -> relay.
Stop order (graceful): stop fetching -> in-flight batches finish -> relay flushes the
outbox -> NATS drains -> pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator

import asyncpg
import uvicorn
from fastapi import FastAPI

from summit_common import db, outbox, privacy
from summit_common.bus import Naming, connect, ensure_streams
from summit_common.consumer import Consumer
from summit_common.http import build_app
from summit_common.logs import configure_logging, get_logger
from summit_common.metrics import Metrics
from summit_common.service import Service
from summit_common.settings import Settings
from summit_common.tracing import configure_tracing
from summit_common.uow import UnitOfWork, finish_writes, run_committed_hooks
from summit_contracts import REGISTRY

log = get_logger(component="runtime")


class ServiceRuntime:
    def __init__(self, service: Service, settings: Settings | None = None) -> None:
        self.service = service
        self.settings = settings or Settings()
        self.naming = Naming(self.settings.subject_prefix)
        self.schema = db.check_schema_name(service.schema + self.settings.schema_suffix)
        self.metrics = Metrics(service.name)
        self.outbox_channel = outbox.channel_for(self.schema)
        self.pool: asyncpg.Pool | None = None
        self.nc = None
        self.js = None
        self.consumers: list[Consumer] = []
        self.relay: outbox.Relay | None = None
        self._tasks: list[asyncio.Task] = []
        self._workers: list[asyncio.Task] = []
        self._migrated = False
        self._app: FastAPI | None = None
        configure_logging(self.settings.log_level)
        configure_tracing(service.name, self.settings.otlp_endpoint)

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            self._app = build_app(self)
        return self._app

    async def start(self, *, consume: bool = True, relay: bool = True, workers: bool = True) -> None:
        s = self.settings
        if s.env == "production":
            missing = [name for name in self.service.production_secrets if not os.environ.get(name)]
            if missing:
                raise RuntimeError(f"{self.service.name}: set {', '.join(missing)}; "
                                   "SUMMIT_ENV=production does not run on their public dev defaults")
        # A connection per consumer batch, plus the relay's listener and publisher, plus HTTP.
        self.pool = await db.create_pool(s.database_url, self.schema, max_size=len(self.service.handlers) + 8)
        async with self.pool.acquire() as conn:
            migrations = db.load_migrations(db.CHASSIS_MIGRATIONS, namespace="chassis")
            migrations += db.load_migrations(self.service.migrations, namespace=self.service.schema)
            await db.migrate(conn, self.schema, migrations)
        self._migrated = True
        self.nc = await connect(s.nats_url, name=self.service.name)
        self.js = self.nc.jetstream()
        await ensure_streams(self.js, self.naming, REGISTRY.domains(), replicas=s.stream_replicas,
                             duplicate_window=s.dedupe_window_seconds, max_age_days=s.stream_max_age_days)
        if relay:
            self.relay = outbox.Relay(
                pool=self.pool, js=self.js, channel=self.outbox_channel, metrics=self.metrics,
                poll_seconds=s.outbox_poll_seconds, batch_size=s.outbox_batch_size,
            )
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.service.name}:relay"))
        if consume:
            for event_type, handler in sorted(self.service.handlers.items()):
                consumer = Consumer(
                    service=self.service.name, event_type=event_type, handler=handler, js=self.js, pool=self.pool,
                    naming=self.naming, settings=s, metrics=self.metrics, outbox_channel=self.outbox_channel,
                    on_emitted=self._wake_relay,
                    # The service's lock order is for its own events; DSAR requests keep delivery order.
                    batch_order=None if event_type in privacy.HANDLED else self.service.batch_order,
                    skip_erased=self.service.personal_data is not None and event_type not in privacy.HANDLED,
                )
                await consumer.start()
                self.consumers.append(consumer)
                self._tasks.append(asyncio.create_task(consumer.run(), name=f"{self.service.name}:{event_type}"))
        if workers:
            for worker in self.service.workers:
                name = f"{self.service.name}:worker:{getattr(worker, '__name__', 'worker')}"
                self._workers.append(asyncio.create_task(self._supervise(worker), name=name))
        log.info("service_started", service=self.service.name, schema=self.schema, consumers=[c.durable for c in self.consumers])

    async def _supervise(self, worker) -> None:
        """Keep a worker loop alive: an unexpected error is logged and the loop restarts."""
        while True:
            try:
                await worker(self)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.error("worker_failed", service=self.service.name, worker=getattr(worker, "__name__", "?"), error=type(exc).__name__)
                await asyncio.sleep(1)

    def _wake_relay(self) -> None:
        if self.relay is not None:
            self.relay.wake()

    async def stop(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        for consumer in self.consumers:
            await consumer.stop()
        # Consumers finish their in-flight batch and exit on their own (fetches are short).
        consumer_tasks = [t for t in self._tasks if not t.get_name().endswith(":relay")]
        if consumer_tasks:
            await asyncio.wait(consumer_tasks, timeout=self.settings.ack_wait_seconds)
        if self.relay is not None:
            self.relay.stop()
            relay_tasks = [t for t in self._tasks if t.get_name().endswith(":relay")]
            if relay_tasks:
                await asyncio.wait(relay_tasks, timeout=10)
            with contextlib.suppress(Exception):
                await self.relay.drain()  # whatever the last batches emitted
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.consumers.clear()
        if self.nc is not None:
            # Acks and PubAcks are already flushed; drain() would wait on idle pull subscriptions.
            with contextlib.suppress(Exception):
                await self.nc.flush(timeout=5)
            await self.nc.close()
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.close(), timeout=10)
            except TimeoutError:
                log.warning("pool_close_timeout", service=self.service.name)
                self.pool.terminate()
        log.info("service_stopped", service=self.service.name)

    @contextlib.asynccontextmanager
    async def unit_of_work(self, *, tenant: str, correlationid: str | None = None) -> AsyncIterator[UnitOfWork]:
        """A transaction for an HTTP command: state changes and emitted events commit together."""
        assert self.pool is not None, "start() first"
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                uow = UnitOfWork(conn=conn, source=self.service.name, tenant=tenant, correlationid=correlationid)
                yield uow
                await finish_writes(conn, uow.deferred, uow.precommit)
                await outbox.write(conn, uow.pending, self.naming, self.outbox_channel)
        await run_committed_hooks(uow.committed_hooks)
        if uow.pending:
            self._wake_relay()

    async def readiness(self) -> dict[str, bool]:
        checks = {"migrations": self._migrated, "nats": bool(self.nc and self.nc.is_connected), "postgres": False}
        if self.pool is not None:
            with contextlib.suppress(Exception):
                async with self.pool.acquire(timeout=2) as conn:
                    checks["postgres"] = await conn.fetchval("SELECT 1") == 1
        return checks

    async def serve(self, *, host: str | None = None, port: int | None = None) -> None:
        """Run until SIGTERM/SIGINT: what a container runs."""
        await self.start()
        config = uvicorn.Config(self.app, host=host or self.settings.http_host, port=port or self.settings.http_port,
                                log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # we own the signals
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        http_task = asyncio.create_task(server.serve())
        await stop.wait()
        server.should_exit = True
        await http_task
        await self.stop()
