"""Interoperability with the official CloudEvents Python SDK, over real NATS and Postgres:
an SDK-built event published with plain nats-py is processed, and what Summit emits
parses with the SDK."""

from __future__ import annotations

import json

import nats
import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent

from summit_common.runtime import ServiceRuntime
from tests.helpers import eventually, read_subject
from tests.integration.probe_service import make_service

pytestmark = pytest.mark.integration


async def test_sdk_event_in_and_summit_event_out(settings):
    runtime = ServiceRuntime(make_service(), settings)
    await runtime.start()
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    try:
        sdk_event = SdkEvent(
            {
                "id": "external-42",  # ids from outside are any non-empty string
                "source": "urn:partner:crm",
                "type": "probe.item.recorded.v1",
                "specversion": "1.0",
                "datacontenttype": "application/json",
                "tenantid": "acme",
            },
            {"item_id": "from-sdk", "value": 5},
        )
        # Plain nats-py, no Summit code on the producer side.
        await nc.publish(runtime.naming.subject("probe.item.recorded.v1"), JSONFormat().write(sdk_event))

        async def stored():
            async with runtime.pool.acquire() as conn:
                return await conn.fetchval("SELECT value FROM items WHERE item_id = 'from-sdk'")

        assert await eventually(stored) == 5
        out = await read_subject(js, runtime.naming.stream("probe"), runtime.naming.subject("probe.item.stored.v1"), at_least=1)
        parsed = JSONFormat().read(None, out[0].data)
        assert parsed.get_type() == "probe.item.stored.v1"
        assert parsed.get_source() == "probe"
        assert parsed.get_extension("tenantid") == "acme"
        assert parsed.get_extension("causationid") == "external-42"
        assert parsed.get_time() is not None
        assert json.loads(out[0].data)["data"] == {"item_id": "from-sdk", "value": 5}
    finally:
        await nc.close()
        await runtime.stop()
