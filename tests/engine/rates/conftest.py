"""Fixtures of the rates tests: a fake clock, fake providers and a service over them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from rates_fakes import APILAYER, RAPIRA, FakeClock, FakeProvider, make_config
from redis.asyncio import Redis
from redis_scratch import scratch_prefix, scratch_redis

from engine.config.models import AppConfig
from engine.rates.service import RateService


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> AppConfig:
    return make_config()


@pytest.fixture
def rapira() -> FakeProvider:
    return FakeProvider("rapira", RAPIRA)


@pytest.fixture
def apilayer() -> FakeProvider:
    return FakeProvider("apilayer", APILAYER)


@pytest.fixture
async def service(
    config: AppConfig, rapira: FakeProvider, apilayer: FakeProvider, clock: FakeClock
) -> AsyncIterator[RateService]:
    svc = RateService(config, {"rapira": rapira, "apilayer": apilayer}, clock)
    yield svc
    await svc.close()


@pytest.fixture
def prefix() -> str:
    """This test's own key prefix in the shared Redis (``test:<uuid>:``)."""
    return scratch_prefix()


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    """A client of the real redis-server at ``REDIS_URL`` (any database); the keys under
    ``prefix`` are deleted after the test, and no other key is touched."""
    async with scratch_redis(prefix) as client:
        yield client
