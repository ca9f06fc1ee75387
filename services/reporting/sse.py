"""Server-sent metric updates. One hub per replica: an ordered (ephemeral, flow-controlled)
JetStream consumer on the impact.metrics.updated subject feeds a bounded ring buffer and
fans out to the connected clients of the event's tenant. Event ids are JetStream stream
sequences, so a client that reconnects with Last-Event-ID gets what it missed: from the
ring when it still holds that point, otherwise by reading the stream from that sequence."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from nats.js import api
from nats.js.errors import FetchTimeoutError

from summit_common.logs import get_logger

log = get_logger(component="reporting.sse")
METRICS_UPDATED = "impact.metrics.updated.v1"


@dataclass(frozen=True)
class Update:
    seq: int
    tenant: str
    payload: str  # JSON of the event data plus its event id


@dataclass(eq=False)
class Client:
    tenant: str
    queue: asyncio.Queue
    snapshot: int  # the hub's last sequence when the client registered
    lagged: bool = False


@dataclass(eq=False)
class Hub:
    js: object
    subject: str
    stream: str
    ring_size: int = 1000
    queue_size: int = 256
    ring: deque = field(init=False)
    clients: set = field(default_factory=set)
    started_seq: int = 0   # stream sequence before which the ring has nothing
    evicted_seq: int = 0   # highest sequence pushed out of the ring
    last_seq: int = 0
    _sub: object = None

    def __post_init__(self) -> None:
        self.ring = deque(maxlen=self.ring_size)

    async def start(self) -> None:
        info = await self.js.stream_info(self.stream)
        self.started_seq = self.last_seq = info.state.last_seq
        # Start right after the current end (not "deliver new") so nothing falls between
        # reading the stream state and creating the consumer.
        self._sub = await self.js.subscribe(
            self.subject, cb=self._on_msg, ordered_consumer=True,
            config=api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.started_seq + 1))

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        for client in list(self.clients):
            client.lagged = True
            with contextlib.suppress(asyncio.QueueFull):
                client.queue.put_nowait(None)

    @staticmethod
    def decode(seq: int, raw: bytes) -> Update | None:
        try:
            envelope = json.loads(raw)
            tenant = envelope["tenantid"]
            data = dict(envelope["data"]) | {"event_id": envelope["id"]}
        except (ValueError, KeyError, TypeError):
            return None
        return Update(seq=seq, tenant=str(tenant), payload=json.dumps(data, separators=(",", ":")))

    async def _on_msg(self, msg) -> None:
        self.publish(self.decode(msg.metadata.sequence.stream, msg.data))

    def publish(self, update: Update | None) -> None:
        if update is None or (self.ring and update.seq <= self.ring[-1].seq):
            return  # an ordered consumer that reset can replay what we already hold
        if len(self.ring) == self.ring.maxlen:
            self.evicted_seq = self.ring[0].seq
        self.ring.append(update)
        self.last_seq = max(self.last_seq, update.seq)
        for client in list(self.clients):
            if client.tenant != update.tenant or client.lagged:
                continue
            try:
                client.queue.put_nowait(update)
            except asyncio.QueueFull:
                # A client that cannot keep up is closed; it reconnects with Last-Event-ID.
                client.lagged = True

    def register(self, tenant: str) -> Client:
        client = Client(tenant=tenant, queue=asyncio.Queue(self.queue_size), snapshot=self.last_seq)
        self.clients.add(client)
        return client

    def unregister(self, client: Client) -> None:
        self.clients.discard(client)

    async def missed(self, tenant: str, after: int, upto: int) -> list[Update]:
        """This tenant's updates with after < seq <= upto."""
        if upto <= after:
            return []
        if after >= self.started_seq and after >= self.evicted_seq:
            return [u for u in self.ring if after < u.seq <= upto and u.tenant == tenant]
        return [u for u in await self._read_stream(after + 1, upto) if u.tenant == tenant]

    async def _read_stream(self, start: int, upto: int) -> list[Update]:
        sub = await self.js.pull_subscribe(self.subject, stream=self.stream, config=api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE, deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start,
            inactive_threshold=30))
        found: list[Update] = []
        try:
            while True:
                try:
                    batch = await sub.fetch(256, timeout=1.0)
                except (FetchTimeoutError, TimeoutError):
                    break
                for msg in batch:
                    seq = msg.metadata.sequence.stream
                    if seq <= upto and (update := self.decode(seq, msg.data)) is not None:
                        found.append(update)
                if batch and batch[-1].metadata.sequence.stream >= upto:
                    break
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return found


async def hub_for(app) -> Hub:
    """The replica's hub on `app.state.sse_hub`, subscribed on first use."""
    hub = getattr(app.state, "sse_hub", None)
    if hub is not None:
        return hub
    lock = getattr(app.state, "sse_hub_lock", None)
    if lock is None:
        lock = app.state.sse_hub_lock = asyncio.Lock()
    async with lock:
        hub = getattr(app.state, "sse_hub", None)
        if hub is None:
            from services.reporting import deps

            runtime, cfg = app.state.runtime, deps.cfg(app)
            hub = Hub(js=runtime.js, subject=runtime.naming.subject(METRICS_UPDATED),
                      stream=runtime.naming.stream(METRICS_UPDATED.split(".")[0]), ring_size=cfg.sse_ring_size,
                      queue_size=cfg.sse_client_queue)
            await hub.start()
            app.state.sse_hub = hub
    return hub


async def hub_worker(runtime) -> None:
    """Subscribes the hub at start (so the ring fills before the first client) and closes it on stop."""
    hub = await hub_for(runtime.app)
    try:
        await asyncio.Event().wait()
    finally:
        await hub.stop()
        runtime.app.state.sse_hub = None


def format_event(update: Update) -> str:
    return f"id: {update.seq}\nevent: metrics.updated\ndata: {update.payload}\n\n"


async def stream(hub: Hub, tenant: str, last_event_id: int | None, heartbeat: float) -> AsyncIterator[str]:
    client = hub.register(tenant)
    try:
        sent = client.snapshot if last_event_id is None else last_event_id
        for update in await hub.missed(tenant, sent, client.snapshot):
            yield format_event(update)
            sent = update.seq
        sent = max(sent, client.snapshot)
        yield ": connected\n\n"
        while not client.lagged:
            try:
                update = await asyncio.wait_for(client.queue.get(), heartbeat)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if update is None:
                break
            if update.seq > sent:
                yield format_event(update)
                sent = update.seq
    finally:
        hub.unregister(client)
