"""The hub's ring buffer, tenant fan-out and slow-client handling (no I/O)."""

from __future__ import annotations

import json

from services.reporting.sse import Hub, Update, format_event, stream


def update(seq, tenant="acme"):
    return Update(seq=seq, tenant=tenant, payload=json.dumps({"metric_id": f"m-{seq}"}))


async def test_ring_fanout_and_slow_clients():
    hub = Hub(js=None, subject="s", stream="S", ring_size=3, queue_size=2)
    acme, globex, slow = hub.register("acme"), hub.register("globex"), hub.register("acme")
    for seq in (1, 2):
        hub.publish(update(seq))
    hub.publish(update(2))  # replayed by a reset ordered consumer: ignored
    hub.publish(update(3, "globex"))
    assert [acme.queue.get_nowait().seq for _ in range(2)] == [1, 2]
    assert globex.queue.get_nowait().seq == 3
    hub.publish(update(4))
    assert slow.lagged and not acme.lagged  # slow never read: its queue of 2 overflowed
    assert [u.seq for u in hub.ring] == [2, 3, 4] and hub.evicted_seq == 1
    assert [u.seq for u in await hub.missed("acme", 1, 4)] == [2, 4]
    assert await hub.missed("acme", 4, 4) == []
    assert format_event(update(7)) == 'id: 7\nevent: metrics.updated\ndata: {"metric_id": "m-7"}\n\n'


async def test_stream_replays_from_the_ring_then_goes_live():
    hub = Hub(js=None, subject="s", stream="S", ring_size=10)
    for seq in (1, 2, 3):
        hub.publish(update(seq))
    gen = stream(hub, "acme", last_event_id=1, heartbeat=5)
    assert [await anext(gen), await anext(gen)] == [format_event(update(2)), format_event(update(3))]
    assert await anext(gen) == ": connected\n\n"
    hub.publish(update(4, "globex"))
    hub.publish(update(5))
    assert await anext(gen) == format_event(update(5))
    await gen.aclose()
    assert hub.clients == set()
