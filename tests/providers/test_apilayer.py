"""APILayer specifics: request planning, inversion math, quota headers, key handling,
``as_of``, and finding the codes an ``invalid_currency_codes`` answer rejects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from decimal import Decimal

import aiohttp
import pytest
from fake_upstream import FakeUpstream, Recorded, Reply, recorded

from providers.apilayer import ApiLayerConfig, ApiLayerProvider, plan_requests
from providers.base import Pair, QuotaInfo, QuotaReportingProtocol, RatesProviderProtocol
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderResponseError,
)

PATH = "/exchangerates_data/latest"
KEY = "apilayer-test-key-0000"
LATEST = recorded("apilayer_latest.json")  # base USD: EUR 0.813399, GBP 0.72007, JPY 107.346001
RECORDED_RATES = b'{"EUR": 0.813399,"GBP": 0.72007,"JPY": 107.346001}'

Make = Callable[..., ApiLayerProvider]


def latest(base: str, rates: Mapping[str, str]) -> bytes:
    """The recorded ``/latest`` body with only its base and rate values changed."""
    assert LATEST.count(b'"base": "USD"') == 1 and LATEST.count(RECORDED_RATES) == 1
    text = ",".join(f'"{code}": {value}' for code, value in rates.items())
    body = LATEST.replace(b'"base": "USD"', f'"base": "{base}"'.encode())
    return body.replace(RECORDED_RATES, ("{" + text + "}").encode())


def quota_headers(**values: int) -> dict[str, str]:
    names = {
        "remaining_month": "X-RateLimit-Remaining-Month",
        "remaining_day": "X-RateLimit-Remaining-Day",
        "limit_month": "X-RateLimit-Limit-Month",
        "limit_day": "X-RateLimit-Limit-Day",
    }
    return {names[k]: str(v) for k, v in values.items()}


@pytest.fixture
async def make(upstream: FakeUpstream, http_session: aiohttp.ClientSession) -> AsyncIterator[Make]:
    made: list[ApiLayerProvider] = []

    def build(api_key: str | None = KEY, **config: object) -> ApiLayerProvider:
        settings = {
            "kind": "apilayer",
            "base_url": upstream.url + "/exchangerates_data",
            "timeout_seconds": 0.5,
            "retries": 0,
            **config,
        }
        provider = ApiLayerProvider(
            "fx", ApiLayerConfig.model_validate(settings), session=http_session, api_key=api_key
        )
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.close()


# -- planning (pure) --------------------------------------------------------------------------


def test_plan_shares_one_request_per_common_currency() -> None:
    usd_rub, eur_rub, rub_usdt = Pair("USD", "RUB"), Pair("EUR", "RUB"), Pair("RUB", "USDT")
    assert plan_requests([usd_rub, eur_rub, rub_usdt, usd_rub]) == {
        "RUB": [usd_rub, eur_rub, rub_usdt]
    }


def test_plan_prefers_the_quote_side_for_a_single_pair() -> None:
    assert plan_requests([Pair("USD", "RUB")]) == {"RUB": [Pair("USD", "RUB")]}


def test_plan_splits_pairs_without_a_common_currency() -> None:
    plan = plan_requests([Pair("USD", "RUB"), Pair("EUR", "GBP"), Pair("CNY", "RUB")])
    assert plan == {"RUB": [Pair("USD", "RUB"), Pair("CNY", "RUB")], "GBP": [Pair("EUR", "GBP")]}


def test_plan_bridges_quote_currencies_through_a_shared_one() -> None:
    # Two quote currencies, one request: base USD serves USD/RUB directly, EUR/USD inverted.
    assert list(plan_requests([Pair("USD", "RUB"), Pair("EUR", "USD")])) == ["USD"]


# -- fetching ---------------------------------------------------------------------------------


async def test_one_call_for_many_pairs(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, latest("RUB", {"USD": "0.011", "EUR": "0.0098"})))
    usd_rub, eur_rub = Pair("USD", "RUB"), Pair("EUR", "RUB")
    quotes = await make().fetch([usd_rub, eur_rub])
    [request] = upstream.calls(PATH)
    assert request.query == {"base": "RUB", "symbols": "EUR,USD"}
    assert request.headers["apikey"] == KEY
    assert quotes[usd_rub].close == Decimal(1) / Decimal("0.011")
    assert quotes[eur_rub].close == Decimal(1) / Decimal("0.0098")
    assert {q.source for q in quotes.values()} == {"fx"}
    assert all(q.bid is None and q.ask is None for q in quotes.values())


async def test_base_side_pair_is_the_rate_itself(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, latest("RUB", {"USD": "0.011", "EUR": "0.0098"})))
    usd_rub, rub_eur = Pair("USD", "RUB"), Pair("RUB", "EUR")
    quotes = await make().fetch([usd_rub, rub_eur])
    assert quotes[rub_eur].close == Decimal("0.0098")
    assert str(quotes[rub_eur].close) == "0.0098"
    assert quotes[usd_rub].close == Decimal(1) / Decimal("0.011")
    assert len(upstream.calls(PATH)) == 1


async def test_recorded_doc_sample(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, LATEST))
    usd_jpy, eur_usd, gbp_usd = Pair("USD", "JPY"), Pair("EUR", "USD"), Pair("GBP", "USD")
    quotes = await make().fetch([usd_jpy, eur_usd, gbp_usd])
    [request] = upstream.calls(PATH)
    assert request.query == {"base": "USD", "symbols": "EUR,GBP,JPY"}
    assert str(quotes[usd_jpy].close) == "107.346001"
    assert quotes[eur_usd].close == Decimal(1) / Decimal("0.813399")
    assert quotes[gbp_usd].close == Decimal(1) / Decimal("0.72007")


async def test_one_call_per_group(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, latest("RUB", {"USD": "0.011"})), when={"base": "RUB"})
    upstream.serve(PATH, Reply(200, latest("GBP", {"EUR": "1.17"})), when={"base": "GBP"})
    quotes = await make().fetch([Pair("USD", "RUB"), Pair("EUR", "GBP")])
    assert sorted(r.query["base"] for r in upstream.calls(PATH)) == ["GBP", "RUB"]
    assert quotes[Pair("EUR", "GBP")].close == Decimal(1) / Decimal("1.17")


async def test_a_failing_group_fails_the_fetch_with_its_own_error(
    make: Make, upstream: FakeUpstream
) -> None:
    upstream.serve(
        PATH, Reply(200, latest("RUB", {"USD": "0.011"}), delay=2), when={"base": "RUB"}
    )
    upstream.serve(
        PATH,
        Reply(401, recorded("apilayer_error_401_invalid_key.json")),
        when={"base": "GBP"},
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProviderAuthError):  # itself, not an ExceptionGroup
        await make(timeout_seconds=3).fetch([Pair("USD", "RUB"), Pair("EUR", "GBP")])
    assert loop.time() - started < 1  # the slow sibling was cancelled, not awaited


async def test_answer_for_another_base_is_a_response_error(
    make: Make, upstream: FakeUpstream
) -> None:
    upstream.serve(PATH, Reply(200, LATEST))  # base USD
    with pytest.raises(ProviderResponseError, match="asked for base RUB, answered for USD"):
        await make().fetch([Pair("USD", "RUB")])


# -- keys and errors --------------------------------------------------------------------------


@pytest.mark.parametrize("api_key", [None, ""])
async def test_missing_key_fails_without_a_request(
    make: Make, upstream: FakeUpstream, api_key: str | None
) -> None:
    upstream.serve(PATH, Reply(200, LATEST))
    with pytest.raises(ProviderAuthError, match="API_LAYER_KEY"):
        await make(api_key=api_key).fetch([Pair("EUR", "USD")])
    assert upstream.calls() == []


@pytest.mark.parametrize(
    ("status", "sample", "expected", "text"),
    [
        (401, "apilayer_error_401_missing_key.json", ProviderAuthError, "No API key found"),
        (401, "apilayer_error_401_invalid_key.json", ProviderAuthError, "Invalid authentication"),
        (403, "apilayer_error_403_not_subscribed.json", ProviderAuthError, "cannot consume"),
        (404, "apilayer_error_404_no_route.json", ProviderResponseError, "no Route matched"),
        (429, "apilayer_error_429.json", ProviderRateLimitedError, "exceeded your daily/monthly"),
        (200, "apilayer_error_invalid_base_currency.json", ProviderResponseError, "invalid_base"),
        (200, "apilayer_error_invalid_currency_codes.json", ProviderResponseError, "invalid_curr"),
        (400, "apilayer_error_no_timeframe.json", ProviderResponseError, "no_timeframe"),
        (200, "apilayer_error_no_timeframe.json", ProviderResponseError, "no_timeframe"),
        (200, "apilayer_error_101_invalid_access_key.json", ProviderAuthError, "invalid_access"),
    ],
)
async def test_recorded_errors_map(
    make: Make,
    upstream: FakeUpstream,
    status: int,
    sample: str,
    expected: type[ProviderError],
    text: str,
) -> None:
    upstream.serve(PATH, Reply(status, recorded(sample)))
    with pytest.raises(expected, match=text) as info:
        await make(retries=2).fetch([Pair("EUR", "USD")])
    assert type(info.value) is expected
    assert KEY not in str(info.value)
    assert len(upstream.calls(PATH)) == 1


# -- quota ------------------------------------------------------------------------------------


async def test_quota_starts_unknown(make: Make) -> None:
    provider = make()
    assert isinstance(provider, QuotaReportingProtocol)
    assert isinstance(provider, RatesProviderProtocol)
    assert provider.quota == QuotaInfo()


async def test_quota_headers_are_read(make: Make, upstream: FakeUpstream) -> None:
    headers = quota_headers(remaining_month=97, limit_month=100, remaining_day=7, limit_day=10)
    upstream.serve(PATH, Reply(200, LATEST, headers))
    provider = make()
    await provider.fetch([Pair("EUR", "USD")])
    quota = provider.quota
    assert (quota.remaining_month, quota.limit_month) == (97, 100)
    assert (quota.remaining_day, quota.limit_day) == (7, 10)
    assert isinstance(quota.updated_at, datetime) and quota.updated_at.tzinfo is not None


async def test_quota_updates_on_errors_and_keeps_absent_fields(
    make: Make, upstream: FakeUpstream
) -> None:
    provider = make()
    upstream.serve(PATH, Reply(200, LATEST, quota_headers(remaining_month=1, limit_month=100)))
    await provider.fetch([Pair("EUR", "USD")])
    first = provider.quota
    upstream.serve(
        PATH, Reply(429, recorded("apilayer_error_429.json"), quota_headers(remaining_month=0))
    )
    with pytest.raises(ProviderRateLimitedError):
        await provider.fetch([Pair("EUR", "USD")])
    assert provider.quota.remaining_month == 0
    assert provider.quota.limit_month == 100  # not in the second response: kept
    assert first.updated_at is not None and provider.quota.updated_at is not None
    assert provider.quota.updated_at >= first.updated_at


async def test_response_without_quota_headers_changes_nothing(
    make: Make, upstream: FakeUpstream
) -> None:
    provider = make()
    upstream.serve(PATH, Reply(200, LATEST, {"X-RateLimit-Remaining-Month": "not a number"}))
    await provider.fetch([Pair("EUR", "USD")])
    assert provider.quota == QuotaInfo()


def test_monthly_budget_is_config() -> None:
    config = ApiLayerConfig.model_validate({"kind": "apilayer", "monthly_budget": 900})
    assert config.monthly_budget == 900
    assert config.api_key_env == "API_LAYER_KEY"
    assert ApiLayerProvider.price_fields == frozenset({"close"})


# -- as_of ------------------------------------------------------------------------------------


async def test_as_of_is_the_body_timestamp(make: Make, upstream: FakeUpstream) -> None:
    upstream.serve(PATH, Reply(200, LATEST))  # "timestamp": 1519296206
    quotes = await make().fetch([Pair("EUR", "USD"), Pair("USD", "JPY")])
    assert {q.as_of for q in quotes.values()} == {1519296206.0}
    assert not any(q.stale for q in quotes.values())


@pytest.mark.parametrize(
    "timestamp",
    [b"", b'"timestamp": "1519296206"', b'"timestamp": 1519296206000', b'"timestamp": null'],
    ids=["absent", "string", "milliseconds", "null"],
)
async def test_an_insane_timestamp_is_ignored(
    make: Make, upstream: FakeUpstream, timestamp: bytes
) -> None:
    # Derived from the recorded body: only the timestamp changed (or went).
    old = b',"timestamp": 1519296206'
    assert LATEST.count(old) == 1
    upstream.serve(PATH, Reply(200, LATEST.replace(old, b"," + timestamp if timestamp else b"")))
    quote = (await make().fetch([Pair("EUR", "USD")]))[Pair("EUR", "USD")]
    assert quote.as_of is None
    assert quote.close == Decimal(1) / Decimal("0.813399")


# -- partial answers --------------------------------------------------------------------------


async def test_a_symbol_missing_from_rates_is_left_out(
    make: Make, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.serve(PATH, Reply(200, latest("RUB", {"USD": "0.011"})))
    with caplog.at_level(logging.WARNING, logger="providers.apilayer"):
        quotes = await make().fetch([Pair("USD", "RUB"), Pair("EUR", "RUB")])
    assert list(quotes) == [Pair("USD", "RUB")]
    assert caplog.messages == ["fx: EUR/RUB left out: no RUB→EUR rate (missing)"]


# -- invalid_currency_codes: find the rejected codes ------------------------------------------

INVALID_CODES = recorded("apilayer_error_invalid_currency_codes.json")
# "1 RUB = x": the fake's rates; anything else is a code APILayer does not know.
KNOWN = {"USD": "0.011", "EUR": "0.0098", "THB": "0.3724", "AED": "0.045", "ZAR": "0.22"}


def like_apilayer(known: Mapping[str, str] = KNOWN) -> Callable[[Recorded], Reply]:
    """Answer as APILayer does: the recorded 202 body (HTTP 200) as soon as one symbol is
    unknown, which it does not name; else the recorded body with the asked rates."""

    def reply(request: Recorded) -> Reply:
        symbols = request.query["symbols"].split(",")
        if any(code not in known for code in symbols):
            return Reply(200, INVALID_CODES)
        return Reply(200, latest(request.query["base"], {c: known[c] for c in symbols}))

    return reply


def asked(upstream: FakeUpstream) -> list[str]:
    return [r.query["symbols"] for r in upstream.calls(PATH)]


def to_rub(*codes: str) -> list[Pair]:
    return [Pair(code, "RUB") for code in codes]


async def test_one_rejected_code_costs_only_its_pairs(
    make: Make, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.respond(PATH, like_apilayer())
    provider = make()
    pairs = [*to_rub("USD", "EUR", "THB", "AED", "ZAR", "XYZ"), Pair("RUB", "XYZ")]
    with caplog.at_level(logging.DEBUG, logger="providers.apilayer"):
        quotes = await provider.fetch(pairs)
    assert set(quotes) == set(to_rub("USD", "EUR", "THB", "AED", "ZAR"))
    assert quotes[Pair("THB", "RUB")].close == Decimal(1) / Decimal("0.3724")
    # All six, then halves: AED,EUR,THB passes, so USD,XYZ,ZAR holds the culprit and is
    # split without being asked: USD passes, so XYZ,ZAR is split: XYZ fails, ZAR is asked.
    assert asked(upstream) == [
        "AED,EUR,THB,USD,XYZ,ZAR",
        "AED,EUR,THB",
        "USD",
        "XYZ",
        "ZAR",
    ]
    assert provider.requests_sent == 5
    assert provider.rejected_codes == {"XYZ"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "fx: APILayer rejects the currency code(s) XYZ (invalid_currency_codes); "
        "pairs needing them are left out for 86400 s"
    ]


async def test_rejected_codes_are_remembered(
    make: Make, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.respond(PATH, like_apilayer())
    provider = make()
    pairs = to_rub("USD", "EUR", "XYZ")
    await provider.fetch(pairs)
    first = len(upstream.calls(PATH))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="providers.apilayer"):
        quotes = await provider.fetch(pairs)
    assert set(quotes) == set(to_rub("USD", "EUR"))
    assert asked(upstream)[first:] == ["EUR,USD"]  # one request, without XYZ
    assert caplog.records == []  # said once, when found


async def test_rejected_codes_are_forgotten_after_a_while(
    make: Make, upstream: FakeUpstream
) -> None:
    upstream.respond(PATH, like_apilayer())
    provider = make(forget_rejected_after_seconds=0.05)
    await provider.fetch(to_rub("USD", "XYZ"))
    assert provider.rejected_codes == {"XYZ"}
    await asyncio.sleep(0.1)
    assert provider.rejected_codes == frozenset()
    upstream.respond(PATH, like_apilayer({**KNOWN, "XYZ": "2"}))  # now APILayer knows it
    quotes = await provider.fetch(to_rub("USD", "XYZ"))
    assert set(quotes) == set(to_rub("USD", "XYZ"))


async def test_two_rejected_codes_are_both_found(make: Make, upstream: FakeUpstream) -> None:
    upstream.respond(PATH, like_apilayer())
    provider = make()
    quotes = await provider.fetch(to_rub("AAA", "USD", "EUR", "ZZZ"))
    assert set(quotes) == set(to_rub("USD", "EUR"))
    assert provider.rejected_codes == {"AAA", "ZZZ"}
    # AAA,EUR,USD,ZZZ; AAA,EUR fails -> AAA fails, EUR asked; USD,ZZZ asked -> USD, ZZZ
    assert provider.requests_sent == len(upstream.calls(PATH)) <= 6


async def test_every_code_rejected_is_a_response_error_and_not_remembered(
    make: Make, upstream: FakeUpstream
) -> None:
    upstream.serve(PATH, Reply(200, INVALID_CODES))  # whatever is asked
    provider = make()
    with pytest.raises(ProviderResponseError, match="invalid_currency_codes") as info:
        await provider.fetch(to_rub("USD", "EUR"))
    assert "USD/RUB" in str(info.value) and "EUR/RUB" in str(info.value)
    assert provider.requests_sent == 3  # both, then each (the second cannot be skipped)
    assert provider.rejected_codes == frozenset()  # a vendor fault more likely: ask again
    with pytest.raises(ProviderResponseError):
        await provider.fetch(to_rub("USD", "EUR"))
    assert provider.requests_sent == 6


async def test_only_remembered_codes_left_raises_without_a_request(
    make: Make, upstream: FakeUpstream
) -> None:
    upstream.respond(PATH, like_apilayer())
    provider = make()
    await provider.fetch(to_rub("USD", "XYZ"))
    sent = provider.requests_sent
    with pytest.raises(ProviderResponseError, match="XYZ/RUB: APILayer rejected XYZ"):
        await provider.fetch(to_rub("XYZ"))
    assert provider.requests_sent == sent


async def test_a_failure_while_bisecting_fails_the_fetch_and_remembers_nothing(
    make: Make, upstream: FakeUpstream
) -> None:
    upstream.serve(
        PATH, Reply(200, INVALID_CODES), Reply(429, recorded("apilayer_error_429.json"))
    )
    provider = make()
    with pytest.raises(ProviderRateLimitedError):
        await provider.fetch(to_rub("USD", "XYZ"))
    assert provider.rejected_codes == frozenset()
    assert provider.requests_sent == 2
