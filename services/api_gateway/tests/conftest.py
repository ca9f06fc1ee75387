"""Fixtures: the gateway on real NATS + Postgres with in-process upstream apps (httpx ASGI
transports mounted per service URL), a JetStream client, and Redis when one is reachable."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
import yaml
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.api_gateway.config import DEFAULT_ROUTES, GatewaySettings
from services.api_gateway.gateway import close_gateway, configure, namespace
from services.api_gateway.service import service
from services.api_gateway.tests.support import ROUTED, Echo
from summit_common.runtime import ServiceRuntime

REDIS_URL = os.environ.get("SUMMIT_TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def echoes() -> dict[str, Echo]:
    return {name: Echo(name) for name in ROUTED}


@pytest.fixture
async def make_gateway(settings, echoes, tmp_path):
    """Start a gateway replica: `routes` (a routes.yaml document) replaces the shipped rules;
    `service_urls` replaces the default (each routed service -> its echo app)."""
    made: list[ServiceRuntime] = []
    redis_namespaces: list[tuple[str, str]] = []

    async def make(*, routes: dict | None = None, service_urls: dict | None = None, mounts: dict | None = None,
                   redis_url: str = "", consume: bool = True, **overrides) -> ServiceRuntime:
        routes_file = DEFAULT_ROUTES
        if routes is not None:
            routes_file = tmp_path / f"routes-{uuid.uuid4().hex[:6]}.yaml"
            routes_file.write_text(yaml.safe_dump(routes))
        urls = service_urls if service_urls is not None else {name: f"http://{name}.test" for name in echoes}
        transports = {f"http://{name}.test": httpx.ASGITransport(app=echo.app) for name, echo in echoes.items()}
        transports.update(mounts or {})
        gateway_settings = GatewaySettings(service_urls=urls, redis_url=redis_url, routes_file=routes_file,
                                           **{"health_cache_seconds": 0, **overrides})
        runtime = ServiceRuntime(service, settings)
        configure(runtime.app, settings=gateway_settings, mounts=transports)
        await runtime.start(consume=consume)
        made.append(runtime)
        if redis_url:
            redis_namespaces.append((redis_url, namespace(runtime.schema)))
        return runtime

    yield make
    for runtime in made:
        await close_gateway(runtime.app)
        await runtime.stop()
    for url, ns in set(redis_namespaces):
        client = Redis.from_url(url, socket_connect_timeout=1)
        try:
            keys = [k async for k in client.scan_iter(match=f"{ns}:*")]
            if keys:
                await client.delete(*keys)
        except RedisError:
            pass  # a test of an unreachable Redis
        finally:
            await client.aclose()


@pytest.fixture
async def gateway(make_gateway) -> ServiceRuntime:
    return await make_gateway()


def client_for(runtime: ServiceRuntime) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url="http://gw")


@pytest.fixture
async def client(gateway):
    async with client_for(gateway) as http:
        yield http


@pytest.fixture
async def redis_url() -> str:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    except Exception:
        pytest.skip(f"no Redis at {REDIS_URL}")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def redis_client(redis_url):
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_namespace(redis_client):
    ns = f"gwtest:{uuid.uuid4().hex[:10]}"
    yield ns
    keys = [k async for k in redis_client.scan_iter(match=f"{ns}:*")]
    if keys:
        await redis_client.delete(*keys)
