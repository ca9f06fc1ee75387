"""uow.once_before_commit: derived state is recomputed once per pulled batch, after every
handler of the batch, and what it emits is relayed like any other event."""

import asyncio
import json

from summit_common import Service, UnitOfWork
from summit_contracts import new_event
from tests.helpers import eventually, read_subject
from tests.integration.probe_service import register_probe_types


async def record(event, uow: UnitOfWork) -> None:
    await uow.conn.execute("INSERT INTO items (tenant_id, item_id, value) VALUES ($1, $2, $3)",
                           event.tenant, event.data.item_id, event.data.value)

    async def total(u: UnitOfWork) -> None:
        value = await u.conn.fetchval("SELECT sum(value) FROM items WHERE tenant_id = $1", event.tenant)
        await u.conn.execute("INSERT INTO totals (tenant_id, total) VALUES ($1, $2)", event.tenant, value)
        u.emit("probe.item.stored.v1", {"item_id": "total", "value": value}, subject=event.tenant)

    uow.once_before_commit(f"total|{event.tenant}", total)


async def test_batch_recomputes_once_and_sees_every_fact(tmp_path, start_service, bus):
    register_probe_types()
    (tmp_path / "0001_sums.sql").write_text(
        "CREATE TABLE items (tenant_id text, item_id text PRIMARY KEY, value int);"
        "CREATE TABLE totals (run bigserial, tenant_id text, total int);"
    )
    service = Service(name="precommit-probe", description="sums", migrations=tmp_path,
                      handlers={"probe.item.recorded.v1": record}, emits=("probe.item.stored.v1",))
    runtime = await start_service(service, consume=False)  # create streams; publish a backlog first
    for i in range(1, 51):
        event = new_event("probe.item.recorded.v1", {"item_id": f"i{i}", "value": i}, source="t", tenantid="acme")
        await bus.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": event.msg_id})
    await runtime.stop()
    runtime = await start_service(service)

    async def final_total():
        async with runtime.pool.acquire() as conn:
            return await conn.fetchrow("SELECT count(*) AS runs, max(total) AS total FROM totals")
    row = await eventually(lambda: _when(final_total(), lambda r: r["total"] == 1275))
    assert row["runs"] < 50  # once per batch, not once per event
    out = await read_subject(bus, runtime.naming.stream("probe"), runtime.naming.subject("probe.item.stored.v1"), at_least=1)
    assert json.loads(out[-1].data)["data"]["value"] == 1275


async def _when(awaitable, predicate):
    value = await awaitable
    await asyncio.sleep(0)
    return value if value is not None and predicate(value) else None
