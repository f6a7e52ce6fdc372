"""Rapira specifics: optional key, the inverted side names, crossed books, inverse pairs,
partial answers and the ``isWorking`` flag."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import aiohttp
import pytest
from fake_upstream import FakeUpstream, Reply, recorded

from providers.base import Pair
from providers.errors import ProviderResponseError
from providers.rapira import RapiraConfig, RapiraProvider

PATH = "/open/market/rates"
USDT_RUB = Pair("USDT", "RUB")
# Verbatim WireMock stub: no envelope, askPrice 87.92 below bidPrice 94.6.
VERBATIM = recorded("rapira_market_rates.json")
# Envelope with code/message; its BTC/USDT item has no close.
ENVELOPE = recorded("rapira_market_rates_envelope.json")
COMPOSED = recorded("rapira_market_rates_composed.json")

Make = Callable[..., RapiraProvider]


def derive(old: bytes, new: bytes, body: bytes = COMPOSED) -> bytes:
    """A recorded body with one value changed (the format stays the vendor's)."""
    assert body.count(old) == 1, old
    return body.replace(old, new)


@pytest.fixture
async def make(upstream: FakeUpstream, http_session: aiohttp.ClientSession) -> AsyncIterator[Make]:
    made: list[RapiraProvider] = []

    def build(api_key: str | None = None) -> RapiraProvider:
        config = RapiraConfig(kind="rapira", base_url=upstream.url, timeout_seconds=0.5, retries=0)
        provider = RapiraProvider("rapira_main", config, session=http_session, api_key=api_key)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.close()


async def test_no_key_no_header(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, COMPOSED))
    await make().fetch([USDT_RUB])
    [request] = upstream.calls(PATH)
    assert "X-API-KEY" not in request.headers
    assert request.method == "GET"
    assert request.query == {}


async def test_key_sent_as_x_api_key(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, COMPOSED))
    await make(api_key="rapira-test-key").fetch([USDT_RUB])
    [request] = upstream.calls(PATH)
    assert request.headers["X-API-KEY"] == "rapira-test-key"


async def test_matches_on_symbol_not_inverted_side_names(
    make: Make, upstream: FakeUpstream
) -> None:
    # The item says baseCurrency "RUB", quoteCurrency "USDT" for symbol "USDT/RUB".
    upstream.serve(PATH, Reply(200, VERBATIM))
    quotes = await make().fetch([USDT_RUB, Pair("BTC", "USDT"), Pair("ETH", "USDT")])
    assert quotes[USDT_RUB].close == Decimal("94.76")
    assert quotes[Pair("BTC", "USDT")].close == Decimal("60253")
    assert quotes[Pair("ETH", "USDT")].close == Decimal("3004")
    assert len(upstream.calls(PATH)) == 1  # every pair from one request


async def test_crossed_book_is_kept_as_published(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, VERBATIM))
    quote = (await make().fetch([USDT_RUB]))[USDT_RUB]
    assert quote.ask == Decimal("87.92")  # askPrice, below the bid: not swapped, not dropped
    assert quote.bid == Decimal("94.6")
    assert quote.price("mid") == (Decimal("94.6") + Decimal("87.92")) / 2
    assert quote.source == "rapira_main"


async def test_inverse_symbol_serves_the_pair(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, COMPOSED))
    rub_usdt = Pair("RUB", "USDT")
    quote = (await make().fetch([rub_usdt]))[rub_usdt]
    one = Decimal(1)
    assert quote.pair == rub_usdt
    assert quote.close == one / Decimal("94.76")
    assert quote.bid == one / Decimal("94.8")  # selling RUB = buying USDT at its ask
    assert quote.ask == one / Decimal("94.6")
    assert quote.bid < quote.ask


async def test_envelope_sample_parses(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, ENVELOPE))
    quote = (await make().fetch([USDT_RUB]))[USDT_RUB]
    assert (quote.close, quote.bid, quote.ask) == (
        Decimal("80.11"),
        Decimal("80.11"),
        Decimal("80.12"),
    )


async def test_missing_close_is_a_response_error(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, ENVELOPE))  # its BTC/USDT item has bid/ask but no close
    with pytest.raises(ProviderResponseError, match="BTC/USDT: close is missing"):
        await make().fetch([Pair("BTC", "USDT")])


@pytest.mark.parametrize(
    "close",
    [b'"close": 0', b'"close": -94.76', b'"close": NaN', b'"close": "94.76"', b'"close": null'],
    ids=["zero", "negative", "nan", "string", "null"],
)
async def test_unusable_close_is_a_response_error(
    make: Make, upstream: FakeUpstream, close: bytes
) -> None:
    upstream.serve(PATH, Reply(200, derive(b'"close": 94.76', close)))
    with pytest.raises(ProviderResponseError, match="USDT/RUB"):
        await make().fetch([USDT_RUB])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"askPrice": 94.8', b'"askPrice": 0'),
        (b'"askPrice": 94.8', b'"askPrice": null'),
        (b'"askPrice": 94.8', b'"askPrice": "94.8"'),
        (b'"askPrice": 94.8,', b""),
    ],
    ids=["zero", "null", "string", "absent"],
)
async def test_unusable_ask_becomes_none(
    make: Make, upstream: FakeUpstream, old: bytes, new: bytes
) -> None:
    upstream.serve(PATH, Reply(200, derive(old, new)))
    quote = (await make().fetch([USDT_RUB]))[USDT_RUB]
    assert quote.ask is None
    assert quote.bid == Decimal("94.6")
    assert quote.price("mid") is None
    assert quote.close == Decimal("94.76")


async def test_nonzero_code_is_a_response_error(make: Make, upstream: FakeUpstream) -> None:
    body = derive(b'"code": 0', b'"code": 7', ENVELOPE)  # only the code changed
    upstream.serve(PATH, Reply(200, body))
    with pytest.raises(ProviderResponseError, match="code 7: SUCCESS"):
        await make().fetch([USDT_RUB])


async def test_missing_data_is_a_response_error(make: Make, upstream: FakeUpstream) -> None:
    body = derive(b'"data"', b'"payload"', ENVELOPE)  # the list under another key
    upstream.serve(PATH, Reply(200, body))
    with pytest.raises(ProviderResponseError, match="no 'data' list"):
        await make().fetch([USDT_RUB])


async def test_items_without_symbol_are_skipped(make: Make, upstream: FakeUpstream) -> None:
    body = derive(b'"symbol": "BTC/USDT"', b'"symbol": null')
    upstream.serve(PATH, Reply(200, body))
    quotes = await make().fetch([USDT_RUB])
    assert quotes[USDT_RUB].close == Decimal("94.76")
    with pytest.raises(ProviderResponseError, match="BTC/USDT: no market"):
        await make().fetch([Pair("BTC", "USDT")])


async def test_a_pair_without_close_is_left_out_the_others_served(
    make: Make, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.serve(PATH, Reply(200, ENVELOPE))  # BTC/USDT has no close
    with caplog.at_level(logging.WARNING, logger="providers.rapira"):
        quotes = await make().fetch([Pair("BTC", "USDT"), USDT_RUB, Pair("USDT", "BTC")])
    assert list(quotes) == [USDT_RUB]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "rapira_main: BTC/USDT left out: close is missing (missing)",
        "rapira_main: USDT/BTC left out: listed as BTC/USDT, close is missing (missing)",
    ]


async def test_an_unusable_ask_is_logged(
    make: Make, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.serve(PATH, Reply(200, derive(b'"askPrice": 94.8', b'"askPrice": 1E+70')))
    with caplog.at_level(logging.WARNING, logger="providers.rapira"):
        quote = (await make().fetch([USDT_RUB]))[USDT_RUB]
    assert quote.ask is None and quote.close == Decimal("94.76")
    assert "USDT/RUB askPrice 1E+70 is not a usable price" in caplog.text


# -- isWorking --------------------------------------------------------------------------------


async def test_is_working_1_is_live(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, ENVELOPE))  # recorded with "isWorking": 1
    quote = (await make().fetch([USDT_RUB]))[USDT_RUB]
    assert quote.stale is False
    assert quote.as_of is None  # Rapira publishes no timestamp


async def test_no_envelope_is_live(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, VERBATIM))  # no isWorking at all
    assert (await make().fetch([USDT_RUB]))[USDT_RUB].stale is False


@pytest.mark.parametrize("flag", [b"0", b"false"])
async def test_is_working_0_marks_every_quote_stale(
    make: Make, upstream: FakeUpstream, flag: bytes
) -> None:
    # Derived from the recorded envelope: only isWorking changed from 1.
    body = derive(b'"isWorking": 1', b'"isWorking": ' + flag, ENVELOPE)
    upstream.serve(PATH, Reply(200, body))
    rub_usdt = Pair("RUB", "USDT")
    quotes = await make().fetch([USDT_RUB, rub_usdt])
    assert quotes[USDT_RUB].stale is True
    assert quotes[rub_usdt].stale is True  # the inverse keeps the flag
    assert quotes[USDT_RUB].close == Decimal("80.11")  # still quoted, as published


@pytest.mark.parametrize("flag", [b"null", b'"yes"', b"2"])
async def test_other_is_working_values_read_as_live(
    make: Make, upstream: FakeUpstream, flag: bytes
) -> None:
    # Derived from the recorded envelope: only isWorking changed from 1.
    body = derive(b'"isWorking": 1', b'"isWorking": ' + flag, ENVELOPE)
    upstream.serve(PATH, Reply(200, body))
    assert (await make().fetch([USDT_RUB]))[USDT_RUB].stale is False
