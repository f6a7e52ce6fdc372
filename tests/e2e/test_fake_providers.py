"""The fake providers speak the vendors' wire formats: the real provider classes read them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import pytest

from providers.apilayer import ApiLayerConfig, ApiLayerProvider
from providers.base import Pair
from providers.cbr import CbrConfig, CbrProvider
from providers.coingecko import CoinGeckoConfig, CoinGeckoProvider
from providers.errors import (
    ProviderAuthError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from providers.http import create_http_session
from providers.rapira import RapiraConfig, RapiraProvider
from tests.e2e.fake_providers import API_KEY, FakeProviders

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


# -- CBR and CoinGecko ------------------------------------------------------------------------


def cbr(fakes: FakeProviders, http: aiohttp.ClientSession) -> CbrProvider:
    config = CbrConfig(kind="cbr", base_url=fakes.cbr_url, timeout_seconds=1, retries=1)
    return CbrProvider("cbr", config, session=http)


def coingecko(fakes: FakeProviders, http: aiohttp.ClientSession) -> CoinGeckoProvider:
    config = CoinGeckoConfig(
        kind="coingecko", base_url=fakes.coingecko_url, timeout_seconds=1, retries=1
    )
    return CoinGeckoProvider("coingecko", config, session=http)


async def test_cbr_serves_the_recorded_values_dated_today(
    fakes: FakeProviders, http: aiohttp.ClientSession
) -> None:
    quotes = await cbr(fakes, http).fetch([Pair("USD", "RUB"), Pair("THB", "RUB")])
    assert quotes[Pair("USD", "RUB")].close == Decimal("82.6417")
    assert quotes[Pair("THB", "RUB")].close == Decimal("2.38852")  # 23.8852 per 10
    as_of = quotes[Pair("USD", "RUB")].as_of
    assert as_of is not None and 0 <= time.time() - as_of <= 24 * 3600
    [request] = fakes.calls("cbr")
    assert request.path == "/daily_json.js"


async def test_cbr_values_and_date_are_set(
    fakes: FakeProviders, http: aiohttp.ClientSession
) -> None:
    fakes.cbr_values["IDR"] = "56.5419"  # roubles per 10000 rupiah
    fakes.cbr_date = "2024-03-07T11:30:00+03:00"
    quote = (await cbr(fakes, http).fetch([Pair("IDR", "RUB")]))[Pair("IDR", "RUB")]
    assert quote.close == Decimal("0.00565419")
    assert quote.as_of == datetime(2024, 3, 7, 8, 30, tzinfo=UTC).timestamp()


async def test_coingecko_serves_what_is_asked(
    fakes: FakeProviders, http: aiohttp.ClientSession
) -> None:
    quotes = await coingecko(fakes, http).fetch([Pair("USDT", "RUB"), Pair("RUB", "TON")])
    assert quotes[Pair("USDT", "RUB")].close == Decimal("79.21")
    assert quotes[Pair("RUB", "TON")].close == 1 / Decimal("110.21")
    [request] = fakes.calls("coingecko")
    assert request.path == "/api/v3/simple/price"
    assert request.query == {"ids": "tether,the-open-network", "vs_currencies": "rub"}
    fakes.coingecko_prices["tether"]["rub"] = "85.10"
    with pytest.raises(ProviderResponseError, match="BTC/RUB"):  # bitcoin: not in the table
        await coingecko(fakes, http).fetch([Pair("BTC", "RUB")])
    quotes = await coingecko(fakes, http).fetch([Pair("USDT", "RUB"), Pair("BTC", "RUB")])
    assert list(quotes) == [Pair("USDT", "RUB")]
    assert quotes[Pair("USDT", "RUB")].close == Decimal("85.10")


# -- switches ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rapira", "apilayer", "cbr", "coingecko"])
async def test_outage_is_per_provider(
    fakes: FakeProviders, http: aiohttp.ClientSession, name: str
) -> None:
    fetchers = {
        "rapira": (rapira(fakes, http), [USDT_RUB]),
        "apilayer": (apilayer(fakes, http), FIAT),
        "cbr": (cbr(fakes, http), FIAT),
        "coingecko": (coingecko(fakes, http), [USDT_RUB]),
    }
    fakes.outage(name, "503")
    for other, (provider, pairs) in fetchers.items():
        if other == name:
            with pytest.raises(ProviderUnavailableError):
                await provider.fetch(pairs)
        else:
            assert await provider.fetch(pairs)
    fakes.restore(name)
    provider, pairs = fetchers[name]
    assert await provider.fetch(pairs)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("apilayer", "exceeded your daily/monthly"),
        ("coingecko", "exceeded the Rate Limit"),
        ("cbr", "HTTP 429"),
        ("rapira", "HTTP 429"),
    ],
)
async def test_outage_429_serves_the_recorded_body(
    fakes: FakeProviders, http: aiohttp.ClientSession, name: str, match: str
) -> None:
    providers = {
        "rapira": (rapira(fakes, http), [USDT_RUB]),
        "apilayer": (apilayer(fakes, http), FIAT),
        "cbr": (cbr(fakes, http), FIAT),
        "coingecko": (coingecko(fakes, http), [USDT_RUB]),
    }
    provider, pairs = providers[name]
    fakes.outage(name, "429")
    with pytest.raises(ProviderRateLimitedError, match=match):
        await provider.fetch(pairs)


@pytest.mark.parametrize(
    ("name", "pair", "other"),
    [
        ("rapira", "USDT/RUB", Pair("BTC", "USDT")),
        ("apilayer", "THB/RUB", Pair("USD", "RUB")),
        ("cbr", "THB/RUB", Pair("USD", "RUB")),
        ("coingecko", "USDT/RUB", Pair("TON", "RUB")),
    ],
)
@pytest.mark.parametrize("raw", ["1E+70", "1e999999999", "NaN", '"85.3"', "-1"])
async def test_override_price_with_raw_json(
    fakes: FakeProviders,
    http: aiohttp.ClientSession,
    name: str,
    pair: str,
    other: Pair,
    raw: str,
) -> None:
    providers = {
        "rapira": rapira(fakes, http),
        "apilayer": apilayer(fakes, http),
        "cbr": cbr(fakes, http),
        "coingecko": coingecko(fakes, http),
    }
    bad = Pair.parse(pair)
    fakes.override_price(name, pair, raw)
    quotes = await providers[name].fetch([bad, other])
    assert list(quotes) == [other]  # the bad price costs only its own pair
    fakes.restore(name)
    assert set(await providers[name].fetch([bad, other])) == {bad, other}


async def test_override_price_for_a_jump(
    fakes: FakeProviders, http: aiohttp.ClientSession
) -> None:
    fakes.override_price("rapira", "USDT/RUB", "127.95")  # 85.30 + 50 %
    quote = (await rapira(fakes, http).fetch([USDT_RUB]))[USDT_RUB]
    assert (quote.close, quote.bid, quote.ask) == (Decimal("127.95"),) * 3
    fakes.override_price("apilayer", "THB/RUB", "0.2483")  # 1 RUB = 0.2483 THB: +50 % THB/RUB
    quote = (await apilayer(fakes, http).fetch(FIAT))[Pair("THB", "RUB")]
    assert quote.close == 1 / Decimal("0.2483")
    fakes.override_price("apilayer", "THB/RUB", None)
    quote = (await apilayer(fakes, http).fetch(FIAT))[Pair("THB", "RUB")]
    assert quote.close == 1 / Decimal("0.3724")


async def test_numbers_are_written_as_recorded_text(
    fakes: FakeProviders, http: aiohttp.ClientSession
) -> None:
    async with http.get(fakes.rapira_url + "/open/market/rates") as resp:
        text = await resp.text()
    assert '"close": 85.30' in text  # the text set, not a float's repr
    assert '"chg": -0.00706823' in text  # a recorded number, digits kept


async def test_reject_symbol_takes_only_its_pairs_down(
    fakes: FakeProviders, http: aiohttp.ClientSession
) -> None:
    fakes.reject_symbol("THB")
    provider = apilayer(fakes, http)
    quotes = await provider.fetch(FIAT)
    assert set(quotes) == {Pair("USD", "RUB"), Pair("IDR", "RUB")}
    assert provider.rejected_codes == {"THB"}
    bodies = [r.query["symbols"] for r in fakes.calls("apilayer")]
    assert bodies[0] == "IDR,THB,USD" and len(bodies) == provider.requests_sent
    fakes.restore("apilayer")
    fresh = apilayer(fakes, http)
    assert set(await fresh.fetch(FIAT)) == set(FIAT)


async def test_quota_remaining_month(fakes: FakeProviders, http: aiohttp.ClientSession) -> None:
    provider = apilayer(fakes, http)
    await provider.fetch(FIAT)
    assert provider.quota.remaining_month == 99  # 100 minus the requests received
    fakes.quota_remaining_month(3)
    await provider.fetch(FIAT)
    assert provider.quota.remaining_month == 3
    fakes.restore("apilayer")
    await provider.fetch(FIAT)
    assert provider.quota.remaining_month == 97
