"""Fixtures of the rates tests: a fake clock, fake providers and a service over them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from rates_fakes import APILAYER, RAPIRA, FakeClock, FakeProvider, make_config
from redis.asyncio import Redis

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


REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the real redis-server at ``REDIS_URL``, database 15 flushed around the test."""
    client = Redis.from_url(REDIS_URL)
    if int(client.connection_pool.connection_kwargs.get("db", 0)) != 15:
        await client.aclose()
        pytest.fail(f"REDIS_URL={REDIS_URL} must select database 15: the tests flush it")
    await client.flushdb()  # fails the test when there is no server
    yield client
    await client.flushdb()
    await client.aclose()
