"""CoinGecko specifics: coin ids, the request it sends, inverse pairs, the 429 body, the key."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import aiohttp
import pytest
from fake_upstream import FakeUpstream, Reply, recorded
from pydantic import ValidationError

from providers.base import Pair
from providers.coingecko import DEFAULT_COINS, CoinGeckoConfig, CoinGeckoProvider
from providers.errors import ProviderAuthError, ProviderRateLimitedError, ProviderResponseError
from providers.registry import create_registry

PATH = "/api/v3/simple/price"
# {"the-open-network":{"rub":110.21},"tether":{"rub":79.21}}
PRICES = recorded("coingecko_simple_price.json")
RATE_LIMITED = recorded("coingecko_error_429.json")
USDT_RUB, TON_RUB = Pair("USDT", "RUB"), Pair("TON", "RUB")

Make = Callable[..., CoinGeckoProvider]


@pytest.fixture
async def make(upstream: FakeUpstream, http_session: aiohttp.ClientSession) -> AsyncIterator[Make]:
    made: list[CoinGeckoProvider] = []

    def build(api_key: str | None = None, **config: object) -> CoinGeckoProvider:
        settings = {
            "kind": "coingecko",
            "base_url": upstream.url + "/api/v3",
            "timeout_seconds": 0.5,
            "retries": 0,
            **config,
        }
        provider = CoinGeckoProvider(
            "gecko",
            CoinGeckoConfig.model_validate(settings),
            session=http_session,
            api_key=api_key,
        )
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.close()


def test_defaults_and_registration() -> None:
    config = CoinGeckoConfig(kind="coingecko")
    assert config.base_url == "https://api.coingecko.com/api/v3"
    assert config.coins == {
        "USDT": "tether",
        "BTC": "bitcoin",
        "ETH": "ethereum",
        "TON": "the-open-network",
    }
    assert dict(DEFAULT_COINS) == config.coins
    assert CoinGeckoProvider.price_fields == frozenset({"close"})
    assert create_registry(include_entry_points=False).get("coingecko") is CoinGeckoProvider


def test_coins_replace_the_defaults_and_are_checked() -> None:
    config = CoinGeckoConfig.model_validate({"kind": "coingecko", "coins": {"usdt": "tether"}})
    assert config.coins == {"USDT": "tether"}
    with pytest.raises(ValidationError, match="not a CoinGecko coin id"):
        CoinGeckoConfig.model_validate({"kind": "coingecko", "coins": {"USDT": "Tether USD"}})
    with pytest.raises(ValidationError, match="not a currency code"):
        CoinGeckoConfig.model_validate({"kind": "coingecko", "coins": {"US DT": "tether"}})


async def test_one_request_for_every_coin_and_currency(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, PRICES))
    quotes = await make().fetch([USDT_RUB, TON_RUB])
    [request] = upstream.calls(PATH)
    assert request.query == {"ids": "tether,the-open-network", "vs_currencies": "rub"}
    assert "x-cg-demo-api-key" not in request.headers
    assert str(quotes[USDT_RUB].close) == "79.21"
    assert str(quotes[TON_RUB].close) == "110.21"
    assert all(q.as_of is None and not q.stale for q in quotes.values())


async def test_fiat_coin_is_the_inverse(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, PRICES))
    rub_usdt = Pair("RUB", "USDT")
    quote = (await make().fetch([rub_usdt]))[rub_usdt]
    assert quote.close == Decimal(1) / Decimal("79.21")
    [request] = upstream.calls(PATH)
    assert request.query == {"ids": "tether", "vs_currencies": "rub"}


async def test_demo_key_travels_in_its_header(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, PRICES))
    await make(api_key="CG-demo-test-key").fetch([USDT_RUB])
    [request] = upstream.calls(PATH)
    assert request.headers["x-cg-demo-api-key"] == "CG-demo-test-key"
    assert "CG-demo-test-key" not in str(request.query)


async def test_configured_coins_map_codes_to_ids(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, PRICES))
    provider = make(coins={"TONCOIN": "the-open-network"})
    quotes = await provider.fetch([Pair("TONCOIN", "RUB")])
    assert str(quotes[Pair("TONCOIN", "RUB")].close) == "110.21"
    assert upstream.calls(PATH)[0].query["ids"] == "the-open-network"


async def test_pairs_without_a_coin_are_left_out_without_a_request(
    make: Make, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.serve(PATH, Reply(200, PRICES))
    with pytest.raises(ProviderResponseError, match="USD/RUB: neither side is a coin"):
        await make().fetch([Pair("USD", "RUB")])
    assert upstream.calls(PATH) == []
    with caplog.at_level(logging.WARNING, logger="providers.coingecko"):
        quotes = await make().fetch([Pair("USD", "RUB"), USDT_RUB])
    assert list(quotes) == [USDT_RUB]
    assert "gecko: USD/RUB left out: neither side is a coin" in caplog.text
    assert upstream.calls(PATH)[-1].query == {"ids": "tether", "vs_currencies": "rub"}


async def test_a_coin_missing_from_the_answer_is_left_out(
    make: Make, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.serve(PATH, Reply(200, PRICES))  # no bitcoin in it
    with caplog.at_level(logging.WARNING, logger="providers.coingecko"):
        quotes = await make().fetch([Pair("BTC", "RUB"), USDT_RUB, Pair("USDT", "EUR")])
    assert list(quotes) == [USDT_RUB]
    assert caplog.messages == [
        "gecko: BTC/RUB left out: no bitcoin price in rub (missing)",
        "gecko: USDT/EUR left out: no tether price in eur (missing)",
    ]


async def test_429_is_rate_limited_with_the_vendor_message(
    make: Make, upstream: FakeUpstream
) -> None:
    upstream.serve(PATH, Reply(429, RATE_LIMITED))
    with pytest.raises(ProviderRateLimitedError, match="You've exceeded the Rate Limit") as info:
        await make(retries=2).fetch([USDT_RUB])
    assert info.value.retry_after is None
    assert len(upstream.calls(PATH)) == 1  # no Retry-After: a quota, not a blip
    assert len(str(info.value)) < 200


async def test_403_with_the_same_body_is_an_auth_error(make: Make, upstream: FakeUpstream) -> None:
    # One public note says keyless calls may get 403 with this body (unverified): map it.
    upstream.serve(PATH, Reply(403, RATE_LIMITED))
    with pytest.raises(ProviderAuthError, match="HTTP 403"):
        await make().fetch([USDT_RUB])


async def test_an_error_envelope_with_200_is_a_response_error(
    make: Make, upstream: FakeUpstream
) -> None:
    upstream.serve(PATH, Reply(200, RATE_LIMITED))
    with pytest.raises(ProviderResponseError, match="answered an error: You've exceeded"):
        await make().fetch([USDT_RUB])
