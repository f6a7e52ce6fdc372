"""The fake providers speak the vendors' wire formats: the real provider classes read them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import aiohttp
import pytest
from fake_providers import API_KEY, FakeProviders

from providers.apilayer import ApiLayerConfig, ApiLayerProvider
from providers.base import Pair
from providers.errors import ProviderAuthError, ProviderUnavailableError
from providers.http import create_http_session
from providers.rapira import RapiraConfig, RapiraProvider

USDT_RUB = Pair("USDT", "RUB")
FIAT = [Pair("USD", "RUB"), Pair("THB", "RUB"), Pair("IDR", "RUB")]


@pytest.fixture
def fakes() -> Iterator[FakeProviders]:
    server = FakeProviders().start()
    yield server
    server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    session = create_http_session()
    yield session
    await session.close()


def rapira(fakes: FakeProviders, http: aiohttp.ClientSession) -> RapiraProvider:
    config = RapiraConfig(kind="rapira", base_url=fakes.rapira_url, timeout_seconds=1, retries=1)
    return RapiraProvider("rapira", config, session=http)


def apilayer(
    fakes: FakeProviders, http: aiohttp.ClientSession, key: str | None = API_KEY
) -> ApiLayerProvider:
    config = ApiLayerConfig(
        kind="apilayer", base_url=fakes.apilayer_url, timeout_seconds=1, retries=1
    )
    return ApiLayerProvider("apilayer", config, session=http, api_key=key)


async def test_rapira_quotes_the_set_usdt_rub(
    fakes: FakeProviders, http: aiohttp.ClientSession
) -> None:
    quote = (await rapira(fakes, http).fetch([USDT_RUB]))[USDT_RUB]
    assert (quote.close, quote.bid, quote.ask) == (
        Decimal("85.3"),
        Decimal("85.2"),
        Decimal("85.4"),
    )
    assert len(fakes.calls("rapira")) == 1


async def test_apilayer_quotes_rub_based_rates_with_the_key(
    fakes: FakeProviders, http: aiohttp.ClientSession
) -> None:
    provider = apilayer(fakes, http)
    quotes = await provider.fetch(FIAT)
    assert quotes[Pair("USD", "RUB")].close == 1 / Decimal("0.01227")
    assert quotes[Pair("IDR", "RUB")].close == 1 / Decimal("176.86")
    [request] = fakes.calls("apilayer")
    assert request.query == {"base": "RUB", "symbols": "IDR,THB,USD"}
    assert request.headers["apikey"] == API_KEY
    assert provider.quota.limit_month == 100
    with pytest.raises(ProviderAuthError):
        await apilayer(fakes, http, key="wrong").fetch(FIAT)


@pytest.mark.parametrize("mode", ["503", "drop"])
async def test_outage_and_restore(
    fakes: FakeProviders, http: aiohttp.ClientSession, mode: str
) -> None:
    fakes.outage("rapira", mode)  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailableError):
        await rapira(fakes, http).fetch([USDT_RUB])
    # one retry by the provider (aiohttp itself may resend once on a dropped connection)
    assert len(fakes.calls("rapira")) >= 2
    fakes.restore()
    assert USDT_RUB in await rapira(fakes, http).fetch([USDT_RUB])


async def test_latency(fakes: FakeProviders, http: aiohttp.ClientSession) -> None:
    fakes.latency("apilayer", 0.3)
    started = time.monotonic()
    await apilayer(fakes, http).fetch(FIAT)
    assert time.monotonic() - started >= 0.3
    fakes.latency("apilayer", 2)  # beyond the 1 s budget
    with pytest.raises(ProviderUnavailableError):
        await apilayer(fakes, http).fetch(FIAT)
