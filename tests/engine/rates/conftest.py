"""Fixtures of the rates tests: a fake clock, fake providers and a service over them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from rates_fakes import APILAYER, RAPIRA, FakeClock, FakeProvider, make_config

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
