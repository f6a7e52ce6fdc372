"""The contract every network provider passes, run over each one against recorded bodies.

A provider joins by adding a :class:`Case`: where it lives on the fake upstream, a recorded
success body and what it must yield, and the recorded error bodies of its vendor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import aiohttp
import pytest
from fake_upstream import HTML_502, FakeUpstream, Reply, recorded, unused_port

from providers.apilayer import ApiLayerProvider
from providers.base import PRICE_FIELDS, BaseProvider, Pair, Quote, RatesProviderProtocol
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from providers.rapira import RapiraProvider

NAME = "desk_feed"  # a configured name that differs from the kind: quotes carry this one


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
        zero_body: ``ok_body`` with the rate behind ``pair`` set to 0.
        error_bodies: the vendor's recorded bodies for HTTP statuses (else an empty body).
        in_body_errors: recorded 200 bodies that are errors, and what they become.
    """

    kind: str
    cls: type[RapiraProvider] | type[ApiLayerProvider]
    mount: str
    path: str
    api_key: str | None
    ok_body: bytes
    pair: Pair
    close: Decimal
    bid: str | None
    ask: str | None
    missing: Pair
    zero_body: bytes
    error_bodies: dict[int, bytes] = field(default_factory=dict)
    in_body_errors: list[tuple[bytes, type[ProviderError]]] = field(default_factory=list)


def _replace_once(body: bytes, old: bytes, new: bytes) -> bytes:
    assert body.count(old) == 1, old
    return body.replace(old, new)


RAPIRA_OK = recorded("rapira_market_rates_composed.json")
APILAYER_OK = recorded("apilayer_latest_captured_fixer.json")

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
        # Derived from the recorded body: only the USDT/RUB close changed.
        zero_body=_replace_once(RAPIRA_OK, b'"close": 94.76', b'"close": 0'),
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
        # Derived from the recorded body: only the EUR rate changed.
        zero_body=_replace_once(APILAYER_OK, b'"EUR": 0.95987', b'"EUR": 0'),
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
    ) -> RapiraProvider | ApiLayerProvider:
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


async def test_missing_symbol_names_the_pair(h: Harness) -> None:
    h.serve(Reply(200, h.case.ok_body))
    with pytest.raises(ProviderResponseError, match=str(h.case.missing)):
        await h.provider().fetch([h.case.pair, h.case.missing])


async def test_zero_rate_is_a_response_error(h: Harness) -> None:
    h.serve(Reply(200, h.case.zero_body))
    with pytest.raises(ProviderResponseError, match=str(h.case.pair)):
        await h.provider().fetch([h.case.pair])


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


async def test_retries_fit_in_the_timeout(h: Harness) -> None:
    h.serve(Reply(503, delay=0.1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProviderUnavailableError):
        await h.provider(timeout=0.5, retries=10).fetch([h.case.pair])
    assert loop.time() - started < 0.5 + 0.15
    assert 2 <= h.calls < 11
