"""Live metric updates over real HTTP (uvicorn) and JetStream: tenant scoping, stream
sequences as event ids, resume with Last-Event-ID from the ring and from the stream, heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest
import uvicorn

from services.reporting.tests.helpers import auth, metrics, publish
from services.reporting.tests.test_schedules import free_port
from summit_common.auth import mint_token
from tests.helpers import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def base_url(runtime, reporting_settings):
    runtime.app.state.reporting_settings = reporting_settings.model_copy(update={"sse_ring_size": 2})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(runtime.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), timeout=15)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 10)


class Stream:
    """One SSE connection; events and comments are read into lists as they arrive."""

    def __init__(self, http: httpx.AsyncClient, url: str, headers: dict):
        self.events: list[dict] = []
        self.comments: list[str] = []
        self.status: int | None = None
        self._task = asyncio.create_task(self._read(http, url, headers))

    async def _read(self, http, url, headers):
        async with http.stream("GET", url, headers=headers) as r:
            self.status = r.status_code
            event: dict = {}
            async for line in r.aiter_lines():
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line.startswith("id: "):
                    event["id"] = int(line[4:])
                elif line.startswith("data: "):
                    event["data"] = json.loads(line[6:])
                elif line == "" and event:
                    self.events.append(event)
                    event = {}

    async def connected(self):
        await eventually(lambda: asyncio.sleep(0, "connected" in self.comments), timeout=15)

    async def wait(self, n):
        return await eventually(lambda: asyncio.sleep(0, self.events if len(self.events) >= n else None), timeout=30)

    async def close(self):
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


async def test_stream_is_tenant_scoped_resumable_and_heartbeats(runtime, bus, settings, base_url):
    url = f"{base_url}/v1/stream/metrics"
    acme_token = mint_token(settings.jwt_secret, sub="u1", tenant="acme", roles=["company_user"])
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(url)).status_code == 401
        bad = await http.get(url, headers=auth(settings) | {"Last-Event-ID": "abc"})
        assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"

        acme = Stream(http, f"{url}?access_token={acme_token}", {})  # EventSource style
        globex = Stream(http, url, auth(settings, "globex"))
        await acme.connected()
        await globex.connected()
        await publish(bus, runtime, metrics("m-1", vis=10))
        await publish(bus, runtime, metrics("g-1", tenant="globex", vis=20))
        [first] = await acme.wait(1)
        assert first["data"]["metric_id"] == "m-1" and first["data"]["company_id"] == "acme" and first["data"]["event_id"]
        [g] = await globex.wait(1)
        assert g["data"]["metric_id"] == "g-1" and g["id"] > first["id"]  # ids are stream sequences
        await eventually(lambda: asyncio.sleep(0, "heartbeat" in acme.comments), timeout=15)
        await acme.close()

        for i in (2, 3, 4):
            await publish(bus, runtime, metrics(f"m-{i}", vis=10 * i))
        latest = await globex.wait(1)  # globex saw none of acme's updates
        hub = runtime.app.state.sse_hub
        await eventually(lambda: asyncio.sleep(0, len(hub.ring) == 2 and json.loads(hub.ring[-1].payload)["metric_id"] == "m-4"), timeout=30)
        assert len(latest) == 1

        # m-2 fell out of the 2-slot ring: it is read back from the stream, the rest from the ring
        resumed = Stream(http, url, auth(settings) | {"Last-Event-ID": str(first["id"])})
        events = await resumed.wait(3)
        assert [e["data"]["metric_id"] for e in events] == ["m-2", "m-3", "m-4"]
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)
        await resumed.connected()
        await publish(bus, runtime, metrics("m-5", vis=50))
        events = await resumed.wait(4)
        assert events[3]["data"]["metric_id"] == "m-5" and len(events) == 4
        await resumed.close()

        from_ring = Stream(http, url, auth(settings) | {"Last-Event-ID": str(events[1]["id"])})
        assert [e["data"]["metric_id"] for e in await from_ring.wait(2)] == ["m-4", "m-5"]
        await from_ring.close()
        await globex.close()
        assert len(globex.events) == 1
