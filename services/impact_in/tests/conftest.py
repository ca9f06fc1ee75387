from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from services.impact_in import context
from services.impact_in.service import service
from services.impact_in.settings import ImpactInSettings
from services.impact_in.tests.fakes import FakeBenevity, FakeGoodera, FakeWorkday, Served
from tests.fixtures import api_client
from tests.helpers import ManualClock


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))  # the fakes check real time


@pytest.fixture
async def runtime(start_service, clock):
    rt = await start_service(service, workers=False)  # tests drive worker.deliver_due themselves
    ctx = context.of(rt)
    ctx.settings = ImpactInSettings(secret_key=SecretStr("test-key"), max_attempts=3, backoff_base_seconds=10,
                                    backoff_max_seconds=300, breaker_failures=2, breaker_cooldown_seconds=60,
                                    token_attempts=3, token_backoff_seconds=0, http_timeout_seconds=5)
    ctx.clock = clock
    ctx.rng = random.Random(42)
    ctx.sleep = _no_sleep
    return rt


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as http:
        yield http


async def _serve(fake):
    served = Served(fake.app())
    await served.start()
    fake.url = served.url
    return served


@pytest.fixture
async def benevity():
    fake = FakeBenevity()
    served = await _serve(fake)
    yield fake
    await served.stop()


@pytest.fixture
async def goodera():
    fake = FakeGoodera()
    served = await _serve(fake)
    yield fake
    await served.stop()


@pytest.fixture
async def workday():
    fake = FakeWorkday()
    served = await _serve(fake)
    yield fake
    await served.stop()
