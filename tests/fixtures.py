"""Test infrastructure: real NATS JetStream and Postgres.

Uses NATS_URL / DATABASE_URL when set; otherwise starts embedded servers once per
session. Every test gets its own subject prefix and schema suffix, so tests never
see each other's streams, consumers or tables.
"""

from __future__ import annotations

import uuid

import pytest

from summit_common.settings import Settings

DEV_SECRET = "test-secret-do-not-use-in-production-0123456789"


@pytest.fixture(scope="session")
def infra():
    from summit_common.embedded import nats_and_postgres

    with nats_and_postgres() as servers:
        yield {"nats_url": servers.nats_url, "database_url": servers.database_url}


@pytest.fixture
def settings(infra) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        NATS_URL=infra["nats_url"],
        DATABASE_URL=infra["database_url"],
        subject_prefix=f"t{tag}.",
        schema_suffix=f"_t{tag}",
        jwt_secret=DEV_SECRET,
        fetch_timeout_seconds=0.2,
        retry_backoff_seconds=(0.05, 0.1),
        max_deliver=3,
        outbox_poll_seconds=0.5,
    )


@pytest.fixture
async def bus(settings):
    """A JetStream context on the test's NATS, to publish events and read what services emit."""
    import nats

    nc = await nats.connect(settings.nats_url)
    yield nc.jetstream()
    await nc.close()


@pytest.fixture
async def start_service(settings):
    """Start a service runtime on this test's settings; every started runtime stops at teardown."""
    from summit_common.runtime import ServiceRuntime

    started = []

    async def start(service, custom: Settings | None = None, **options) -> ServiceRuntime:
        runtime = ServiceRuntime(service, custom or settings)
        await runtime.start(**options)
        started.append(runtime)
        return runtime

    yield start
    for runtime in reversed(started):
        await runtime.stop()


def api_client(runtime):
    """An HTTP client on a runtime's ASGI app (no sockets)."""
    import httpx

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url="http://svc")
