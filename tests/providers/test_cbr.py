"""CBR specifics: Nominal, both directions, RUB-only pairs, ``as_of`` from ``Date``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal, localcontext

import aiohttp
import pytest
from fake_upstream import FakeUpstream, Reply, recorded

from providers.base import Pair
from providers.cbr import CbrConfig, CbrProvider
from providers.errors import ProviderResponseError
from providers.registry import create_registry

PATH = "/daily_json.js"
# Recorded 2023-06-10: USD Nominal 1 Value 82.6417; THB 10 / 23.8852; IDR 10000 / 55.4531;
# AMD 100 / 21.3998; INR 10 / 10.0394 (Previous 99.5595, at the old Nominal 100).
DAILY = recorded("cbr_daily.json")

Make = Callable[..., CbrProvider]


def derive(old: bytes, new: bytes, body: bytes = DAILY) -> bytes:
    """The recorded body with one text changed (the format stays the vendor's)."""
    assert body.count(old) == 1, old
    return body.replace(old, new)


@pytest.fixture
async def make(upstream: FakeUpstream, http_session: aiohttp.ClientSession) -> AsyncIterator[Make]:
    made: list[CbrProvider] = []

    def build() -> CbrProvider:
        config = CbrConfig(kind="cbr", base_url=upstream.url, timeout_seconds=0.5, retries=0)
        provider = CbrProvider("cbr", config, session=http_session)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.close()


def test_defaults_and_registration() -> None:
    config = CbrConfig(kind="cbr")
    assert config.base_url == "https://www.cbr-xml-daily.ru"
    assert config.api_key_env is None
    assert CbrProvider.price_fields == frozenset({"close"})
    assert create_registry(include_entry_points=False).get("cbr") is CbrProvider


async def test_one_get_without_key_or_query(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, DAILY))
    await make().fetch([Pair("USD", "RUB"), Pair("RUB", "THB")])
    [request] = upstream.calls(PATH)
    assert (request.method, request.query) == ("GET", {})
    assert not any(h.lower() in ("apikey", "x-api-key") for h in request.headers)


@pytest.mark.parametrize(
    ("code", "close"),
    [
        ("USD", "82.6417"),  # Nominal 1
        ("THB", "2.38852"),  # 23.8852 per 10
        ("AMD", "0.213998"),  # 21.3998 per 100
        ("IDR", "0.00554531"),  # 55.4531 per 10000
        ("INR", "1.00394"),  # Value at today's Nominal 10; Previous is not read
    ],
)
async def test_x_rub_is_value_per_nominal_exactly(
    make: Make, upstream: FakeUpstream, code: str, close: str
) -> None:
    upstream.serve(PATH, Reply(200, DAILY))
    pair = Pair(code, "RUB")
    quote = (await make().fetch([pair]))[pair]
    assert str(quote.close) == close
    assert (quote.bid, quote.ask, quote.stale) == (None, None, False)
    assert quote.source == "cbr"


async def test_rub_x_is_nominal_per_value(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, DAILY))
    rub_idr, rub_usd = Pair("RUB", "IDR"), Pair("RUB", "USD")
    quotes = await make().fetch([rub_idr, rub_usd])
    assert quotes[rub_idr].close == Decimal(10000) / Decimal("55.4531")
    assert quotes[rub_usd].close == Decimal(1) / Decimal("82.6417")
    assert len(quotes[rub_usd].close.as_tuple().digits) == 28


async def test_division_ignores_the_callers_context(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, DAILY))
    rub_usd = Pair("RUB", "USD")
    with localcontext() as ctx:
        ctx.prec = 5
        quote = (await make().fetch([rub_usd]))[rub_usd]
    assert len(quote.close.as_tuple().digits) == 28


async def test_as_of_is_date_not_timestamp(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, DAILY))  # Date 2023-06-10T11:30:00+03:00
    quote = (await make().fetch([Pair("USD", "RUB")]))[Pair("USD", "RUB")]
    assert quote.as_of == datetime(2023, 6, 10, 8, 30, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "date",
    [b'"Date": "10.06.2023"', b'"Date": null', b'"Date": 1686385800', b'"Date": "2023-06-10"'],
    ids=["not-iso", "null", "number", "no-offset"],
)
async def test_unusable_date_gives_no_as_of(
    make: Make, upstream: FakeUpstream, date: bytes
) -> None:
    # Derived from the recorded body: only Date changed.
    upstream.serve(PATH, Reply(200, derive(b'"Date": "2023-06-10T11:30:00+03:00"', date)))
    quote = (await make().fetch([Pair("USD", "RUB")]))[Pair("USD", "RUB")]
    assert quote.as_of is None
    assert quote.close == Decimal("82.6417")


async def test_pairs_without_rub_or_unlisted_are_left_out(
    make: Make, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.serve(PATH, Reply(200, DAILY))
    with caplog.at_level(logging.WARNING, logger="providers.cbr"):
        quotes = await make().fetch([Pair("USD", "EUR"), Pair("USDT", "RUB"), Pair("EUR", "RUB")])
    assert list(quotes) == [Pair("EUR", "RUB")]
    assert caplog.messages == [
        "cbr: USD/EUR left out: the CBR publishes rates against RUB only",
        "cbr: USDT/RUB left out: USDT is not in the CBR daily rates",
    ]


@pytest.mark.parametrize(
    "nominal",
    [
        b'"Nominal": 0',
        b'"Nominal": 2.5',
        b'"Nominal": "10"',
        b'"Nominal": -10',
        b'"Nominal": null',
    ],
    ids=["zero", "fraction", "string", "negative", "null"],
)
async def test_unusable_nominal_leaves_that_currency_out(
    make: Make, upstream: FakeUpstream, nominal: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # Derived from the recorded body: only THB's Nominal changed (the one before its Value).
    thb = '"Nominal": 10,\n            "Name": "Таиландских батов"'.encode()
    body = derive(thb, thb.replace(b'"Nominal": 10', nominal))
    upstream.serve(PATH, Reply(200, body))
    with caplog.at_level(logging.WARNING, logger="providers.cbr"):
        quotes = await make().fetch([Pair("THB", "RUB"), Pair("RUB", "THB"), Pair("USD", "RUB")])
    assert list(quotes) == [Pair("USD", "RUB")]
    assert "THB Nominal is not a whole number" in caplog.text


async def test_a_derived_price_out_of_range_is_left_out(
    make: Make, upstream: FakeUpstream
) -> None:
    # Derived: IDR's Value made tiny; 1e-6 RUB per 10000 IDR is below MIN_PRICE per unit.
    upstream.serve(PATH, Reply(200, derive(b'"Value": 55.4531', b'"Value": 0.000001')))
    quotes = await make().fetch([Pair("IDR", "RUB"), Pair("USD", "RUB")])
    assert list(quotes) == [Pair("USD", "RUB")]


@pytest.mark.parametrize(
    "body",
    [b'{"Date": "2023-06-10T11:30:00+03:00"}', b'{"Valute": []}', b"[]"],
    ids=["no-valute", "valute-list", "array"],
)
async def test_not_the_daily_document_is_a_response_error(
    make: Make, upstream: FakeUpstream, body: bytes
) -> None:
    upstream.serve(PATH, Reply(200, body))
    with pytest.raises(ProviderResponseError):
        await make().fetch([Pair("USD", "RUB")])
