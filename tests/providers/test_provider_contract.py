"""The contract every network provider passes, run over each one against recorded bodies.

A provider joins by adding a :class:`Case`: where it lives on the fake upstream, a recorded
success body and what it must yield, where a price sits in a recorded body (bad variants
are derived there), and the recorded error bodies of its vendor.

The partial-result rule, the same for every provider: a requested pair that the answer
does not list, or whose price is unusable (see ``providers.http.usable_price``), is left
out of the result with a WARNING naming the pair (and the value, cut short); the other
pairs are served. Only when no requested pair can be served does ``fetch`` raise
``ProviderResponseError``, naming the pairs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import aiohttp
import pytest
from fake_upstream import HTML_502, FakeUpstream, Reply, recorded, unused_port

from providers.apilayer import ApiLayerProvider
from providers.base import (
    PRICE_FIELDS,
    BaseProvider,
    Pair,
    Quote,
    RatesProviderProtocol,
    RequestCountingProtocol,
)
from providers.cbr import CbrProvider
from providers.coingecko import CoinGeckoProvider
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from providers.rapira import RapiraProvider

NAME = "desk_feed"  # a configured name that differs from the kind: quotes carry this one

Plugin = (
    type[RapiraProvider] | type[ApiLayerProvider] | type[CbrProvider] | type[CoinGeckoProvider]
)


def _replace_once(body: bytes, old: bytes, new: bytes) -> bytes:
    assert body.count(old) == 1, old
    return body.replace(old, new)


@dataclass(frozen=True)
class PriceSlot:
    """Where ``pair``'s price sits in a recorded body that also serves ``other``.

    Bad-price variants are derived from the recorded text in code, never by editing it.

    Attributes:
        body: a recorded success body serving both pairs.
        pair: the pair whose price is replaced.
        other: a pair the same body serves from another price, left untouched.
        text: the price as it stands in ``body``, e.g. ``b'"close": 94.76'``.
        template: the same with the number as ``%s``, e.g. ``b'"close": %s'``.
    """

    body: bytes
    pair: Pair
    other: Pair
    text: bytes
    template: bytes

    def with_price(self, raw: bytes) -> bytes:
        return _replace_once(self.body, self.text, self.template % raw)


@dataclass(frozen=True)
class Case:
    """How one provider meets the contract.

    Attributes:
        kind: the registry kind.
        cls: the plugin class.
        mount: the path ``base_url`` points to on the fake upstream.
        path: the endpoint path the provider calls.
        api_key: the key to construct it with.
        ok_body: a recorded success body.
        pair: a pair ``ok_body`` serves, with its exact close, and bid and ask as text.
        missing: a pair ``ok_body`` does not serve either way round.
        slot: where a price sits, for the derived bad-price bodies.
        error_bodies: the vendor's recorded bodies for HTTP statuses (else an empty body).
        in_body_errors: recorded 200 bodies that are errors, and what they become.
    """

    kind: str
    cls: Plugin
    mount: str
    path: str
    api_key: str | None
    ok_body: bytes
    pair: Pair
    close: Decimal
    bid: str | None
    ask: str | None
    missing: Pair
    slot: PriceSlot
    error_bodies: dict[int, bytes] = field(default_factory=dict)
    in_body_errors: list[tuple[bytes, type[ProviderError]]] = field(default_factory=list)


RAPIRA_OK = recorded("rapira_market_rates_composed.json")
APILAYER_OK = recorded("apilayer_latest_captured_fixer.json")
APILAYER_DOC = recorded("apilayer_latest.json")  # base USD: EUR 0.813399, GBP 0.72007, ...
CBR_OK = recorded("cbr_daily.json")
COINGECKO_OK = recorded("coingecko_simple_price.json")

CASES = [
    Case(
        kind="rapira",
        cls=RapiraProvider,
        mount="",
        path="/open/market/rates",
        api_key=None,
        ok_body=RAPIRA_OK,
        pair=Pair("USDT", "RUB"),
        close=Decimal("94.76"),
        bid="94.6",
        ask="94.8",
        missing=Pair("EUR", "RUB"),
        slot=PriceSlot(
            RAPIRA_OK, Pair("USDT", "RUB"), Pair("BTC", "USDT"), b'"close": 94.76', b'"close": %s'
        ),
        # Rapira's own error bodies are not recorded: the statuses come with an empty body.
        in_body_errors=[
            # Derived from the recorded envelope: only "code" changed from 0.
            (
                _replace_once(RAPIRA_OK, b'"code": 0', b'"code": 1'),
                ProviderResponseError,
            ),
        ],
    ),
    Case(
        kind="apilayer",
        cls=ApiLayerProvider,
        mount="/exchangerates_data",
        path="/exchangerates_data/latest",
        api_key="test-key-not-real",
        ok_body=APILAYER_OK,
        # The capture is base=USD, EUR 0.95987 ("1 USD = 0.95987 EUR"); EUR/USD is asked
        # with base=USD and served as its inverse, computed in Decimal.
        pair=Pair("EUR", "USD"),
        close=Decimal(1) / Decimal("0.95987"),
        bid=None,
        ask=None,
        missing=Pair("GBP", "USD"),
        slot=PriceSlot(
            APILAYER_DOC, Pair("EUR", "USD"), Pair("GBP", "USD"), b'"EUR": 0.813399', b'"EUR": %s'
        ),
        error_bodies={
            401: recorded("apilayer_error_401_invalid_key.json"),
            403: recorded("apilayer_error_403_not_subscribed.json"),
            404: recorded("apilayer_error_404_no_route.json"),
            429: recorded("apilayer_error_429.json"),
        },
        in_body_errors=[
            (recorded("apilayer_error_invalid_currency_codes.json"), ProviderResponseError),
            (recorded("apilayer_error_invalid_base_currency.json"), ProviderResponseError),
            (recorded("apilayer_error_101_invalid_access_key.json"), ProviderAuthError),
        ],
    ),
    Case(
        kind="cbr",
        cls=CbrProvider,
        mount="",
        path="/daily_json.js",
        api_key=None,
        ok_body=CBR_OK,
        # THB: Nominal 10, Value 23.8852 -> 2.38852 RUB per baht, exact.
        pair=Pair("THB", "RUB"),
        close=Decimal("2.38852"),
        bid=None,
        ask=None,
        missing=Pair("USDT", "RUB"),
        slot=PriceSlot(
            CBR_OK, Pair("THB", "RUB"), Pair("USD", "RUB"), b'"Value": 23.8852,', b'"Value": %s,'
        ),
        # The mirror's error bodies are not recorded: the statuses come with an empty body.
    ),
    Case(
        kind="coingecko",
        cls=CoinGeckoProvider,
        mount="/api/v3",
        path="/api/v3/simple/price",
        api_key=None,
        ok_body=COINGECKO_OK,
        pair=Pair("USDT", "RUB"),
        close=Decimal("79.21"),
        bid=None,
        ask=None,
        missing=Pair("BTC", "RUB"),  # bitcoin is a default coin; the recorded answer lacks it
        slot=PriceSlot(
            COINGECKO_OK,
            Pair("USDT", "RUB"),
            Pair("TON", "RUB"),
            b'"tether":{"rub":79.21}',
            b'"tether":{"rub":%s}',
        ),
        error_bodies={429: recorded("coingecko_error_429.json")},
    ),
]


@pytest.fixture(params=CASES, ids=[c.kind for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@dataclass
class Harness:
    case: Case
    upstream: FakeUpstream
    session: aiohttp.ClientSession
    opened: list[BaseProvider] = field(default_factory=list)

    def provider(
        self, *, timeout: float = 0.3, retries: int = 0, base_url: str | None = None
    ) -> RapiraProvider | ApiLayerProvider | CbrProvider | CoinGeckoProvider:
        config = self.case.cls.config_model.model_validate(
            {
                "kind": self.case.kind,
                "base_url": base_url or self.upstream.url + self.case.mount,
                "timeout_seconds": timeout,
                "retries": retries,
            }
        )
        made = self.case.cls(NAME, config, session=self.session, api_key=self.case.api_key)
        self.opened.append(made)
        return made

    def serve(self, *replies: Reply) -> None:
        self.upstream.serve(self.case.path, *replies)

    @property
    def calls(self) -> int:
        return len(self.upstream.calls(self.case.path))


@pytest.fixture
async def h(
    case: Case, upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> AsyncIterator[Harness]:
    harness = Harness(case, upstream, http_session)
    yield harness
    for made in harness.opened:
        await made.close()


# -- shape and precision ----------------------------------------------------------------------


async def test_satisfies_the_protocol(h: Harness) -> None:
    provider = h.provider()
    assert isinstance(provider, RatesProviderProtocol)
    assert provider.name == NAME
    assert provider.price_fields <= set(PRICE_FIELDS)
    assert "close" in provider.price_fields
    assert provider.needs_network


async def test_parses_the_recorded_body(h: Harness) -> None:
    h.serve(Reply(200, h.case.ok_body))
    quotes = await h.provider().fetch([h.case.pair])
    assert list(quotes) == [h.case.pair]
    quote = quotes[h.case.pair]
    assert isinstance(quote, Quote)
    assert quote.pair == h.case.pair
    assert quote.source == NAME
    assert h.calls == 1


async def test_decimal_precision_is_exact(h: Harness) -> None:
    h.serve(Reply(200, h.case.ok_body))
    quote = (await h.provider().fetch([h.case.pair]))[h.case.pair]
    assert type(quote.close) is Decimal
    assert str(quote.close) == str(h.case.close)  # same digits: not 94.7599999...
    for actual, text in ((quote.bid, h.case.bid), (quote.ask, h.case.ask)):
        if text is None:
            assert actual is None
        else:
            assert type(actual) is Decimal
            assert str(actual) == text


async def test_quotes_carry_exactly_the_declared_price_fields(h: Harness) -> None:
    h.serve(Reply(200, h.case.ok_body))
    provider = h.provider()
    quote = (await provider.fetch([h.case.pair]))[h.case.pair]
    for price_field in PRICE_FIELDS:
        price = quote.price(price_field)
        if price_field in provider.price_fields:
            assert isinstance(price, Decimal) and price > 0, price_field
        else:
            assert price is None, price_field


async def test_no_pairs_no_request(h: Harness) -> None:
    assert await h.provider().fetch([]) == {}
    assert h.calls == 0


async def test_closing_leaves_the_shared_session_open(h: Harness) -> None:
    provider = h.provider()
    await provider.close()
    assert not h.session.closed


# -- error mapping ----------------------------------------------------------------------------

HTTP_ERRORS = [
    pytest.param(401, {}, ProviderAuthError, id="401"),
    pytest.param(403, {}, ProviderAuthError, id="403"),
    pytest.param(404, {}, ProviderResponseError, id="404"),
    pytest.param(429, {}, ProviderRateLimitedError, id="429"),
    pytest.param(429, {"Retry-After": "60"}, ProviderRateLimitedError, id="429-retry-after"),
    pytest.param(500, {}, ProviderUnavailableError, id="500"),
]


@pytest.mark.parametrize(("status", "headers", "expected"), HTTP_ERRORS)
async def test_http_errors_map(
    h: Harness, status: int, headers: dict[str, str], expected: type[ProviderError]
) -> None:
    h.serve(Reply(status, h.case.error_bodies.get(status, b""), headers))
    with pytest.raises(expected) as info:
        await h.provider().fetch([h.case.pair])
    assert type(info.value) is expected
    assert info.value.provider == NAME
    if h.case.api_key:
        assert h.case.api_key not in str(info.value)
    if status == 429:
        assert isinstance(info.value, ProviderRateLimitedError)
        assert info.value.retry_after == (60 if headers else None)


async def test_502_html_is_unavailable(h: Harness) -> None:
    h.serve(Reply(502, HTML_502, content_type="text/html"))
    with pytest.raises(ProviderUnavailableError, match="HTTP 502"):
        await h.provider().fetch([h.case.pair])


@pytest.mark.slow  # waits for the provider's timeout
async def test_timeout_is_unavailable(h: Harness) -> None:
    h.serve(Reply(200, h.case.ok_body, delay=2))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProviderUnavailableError):
        await h.provider(timeout=0.3).fetch([h.case.pair])
    assert loop.time() - started < 0.6


async def test_connection_refused_is_unavailable(h: Harness) -> None:
    nowhere = f"http://127.0.0.1:{unused_port()}{h.case.mount}"
    with pytest.raises(ProviderUnavailableError, match="cannot connect"):
        await h.provider(base_url=nowhere).fetch([h.case.pair])


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda ok: ok[: len(ok) // 2], id="truncated-json"),
        pytest.param(lambda ok: HTML_502, id="html"),
        pytest.param(lambda ok: b"[]", id="json-array"),
        pytest.param(lambda ok: b'{"unexpected": true}', id="json-other-object"),
        pytest.param(lambda ok: b"null", id="json-null"),
    ],
)
async def test_unusable_200_bodies_are_response_errors(
    h: Harness, body: Callable[[bytes], bytes]
) -> None:
    h.serve(Reply(200, body(h.case.ok_body)))
    with pytest.raises(ProviderResponseError):
        await h.provider().fetch([h.case.pair])


async def test_in_body_errors_map(h: Harness) -> None:
    for body, expected in h.case.in_body_errors:
        h.serve(Reply(200, body))
        with pytest.raises(expected) as info:
            await h.provider().fetch([h.case.pair])
        assert type(info.value) is expected


# -- partial results --------------------------------------------------------------------------


async def test_unlisted_pair_is_left_out_with_a_warning(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.serve(Reply(200, h.case.ok_body))
    with caplog.at_level(logging.WARNING, logger="providers"):
        quotes = await h.provider().fetch([h.case.pair, h.case.missing])
    assert list(quotes) == [h.case.pair]
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(h.case.missing) in warning.getMessage()
    assert NAME in warning.getMessage()


async def test_nothing_servable_is_a_response_error_naming_the_pair(h: Harness) -> None:
    h.serve(Reply(200, h.case.ok_body))
    with pytest.raises(ProviderResponseError, match=str(h.case.missing)):
        await h.provider().fetch([h.case.missing])


async def test_the_slot_body_serves_both_pairs(h: Harness) -> None:
    slot = h.case.slot
    h.serve(Reply(200, slot.body))
    quotes = await h.provider().fetch([slot.pair, slot.other])
    assert set(quotes) == {slot.pair, slot.other}


# Raw JSON texts a price must not be taken from. The in-range 400-digit number fails on
# its digit count alone; the others on sign, finiteness, type or range.
BAD_PRICES = [
    pytest.param(b"1e999999999", "1E+999999999", id="1e999999999"),
    pytest.param(b"1E+70", "1E+70", id="1E+70"),
    pytest.param(b"-1", "-1", id="negative"),
    pytest.param(b"0", "0", id="zero"),
    pytest.param(b"NaN", "NaN", id="nan"),
    pytest.param(b"Infinity", "Infinity", id="infinity"),
    pytest.param(b'"85.3"', "'85.3'", id="string"),
    pytest.param(b"1e-30", "1E-30", id="1e-30"),
    pytest.param(b"85." + b"3" * 398, "85.33333", id="400-digits"),
    pytest.param(b"null", "missing", id="null"),
]


@pytest.mark.parametrize(("raw", "shown"), BAD_PRICES)
async def test_an_unusable_price_costs_only_its_own_pair(
    h: Harness, caplog: pytest.LogCaptureFixture, raw: bytes, shown: str
) -> None:
    slot = h.case.slot
    h.serve(Reply(200, slot.with_price(raw)))
    with caplog.at_level(logging.WARNING, logger="providers"):
        quotes = await h.provider(timeout=2.0).fetch([slot.pair, slot.other])  # not a timing test
    assert list(quotes) == [slot.other]
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    text = warning.getMessage()
    assert str(slot.pair) in text
    assert shown in text
    assert len(text) < 200  # the 400 digits are cut short


@pytest.mark.parametrize(("raw", "shown"), BAD_PRICES)
async def test_an_unusable_price_alone_is_a_response_error(
    h: Harness, raw: bytes, shown: str
) -> None:
    slot = h.case.slot
    h.serve(Reply(200, slot.with_price(raw)))
    with pytest.raises(ProviderResponseError, match=str(slot.pair)) as info:
        await h.provider().fetch([slot.pair])
    assert len(str(info.value)) < 300


# -- request counting -------------------------------------------------------------------------


@pytest.mark.slow  # waits for the provider's timeout
async def test_every_attempt_is_counted(h: Harness) -> None:
    h.serve(Reply(503), Reply(503), Reply(200, h.case.ok_body))
    provider = h.provider(timeout=2.0, retries=2)
    assert isinstance(provider, RequestCountingProtocol)
    assert provider.requests_sent == 0
    await provider.fetch([h.case.pair])
    assert provider.requests_sent == h.calls == 3


@pytest.mark.slow  # waits for the provider's timeout
async def test_an_attempt_that_times_out_is_counted(h: Harness) -> None:
    h.serve(Reply(200, h.case.ok_body, delay=2))
    provider = h.provider(timeout=0.3)
    with pytest.raises(ProviderUnavailableError):
        await provider.fetch([h.case.pair])
    assert provider.requests_sent == 1


# -- retries ----------------------------------------------------------------------------------


async def test_500_then_200_succeeds_with_two_calls(h: Harness) -> None:
    h.serve(Reply(500), Reply(200, h.case.ok_body))
    loop = asyncio.get_running_loop()
    started = loop.time()
    quotes = await h.provider(timeout=1.0, retries=2).fetch([h.case.pair])
    assert quotes[h.case.pair].close == h.case.close
    assert h.calls == 2
    assert loop.time() - started < 1.0


async def test_401_is_never_retried(h: Harness) -> None:
    h.serve(Reply(401, h.case.error_bodies.get(401, b"")), Reply(200, h.case.ok_body))
    with pytest.raises(ProviderAuthError):
        await h.provider(timeout=1.0, retries=3).fetch([h.case.pair])
    assert h.calls == 1


@pytest.mark.slow  # waits for the provider's timeout
async def test_retries_fit_in_the_timeout(h: Harness) -> None:
    h.serve(Reply(503, delay=0.1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProviderUnavailableError):
        await h.provider(timeout=0.5, retries=10).fetch([h.case.pair])
    assert loop.time() - started < 0.5 + 0.15
    assert 2 <= h.calls < 11
