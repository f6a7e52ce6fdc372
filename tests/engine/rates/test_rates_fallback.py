"""Fallback sources, per-direction isolation of broken prices, plugin bugs, disagreements."""

from __future__ import annotations

import decimal
import logging
from decimal import Decimal
from typing import Any

import pytest
from rates_fakes import APILAYER, CONFIG, RAPIRA, FakeClock, FakeProvider, make_config

from engine.config.models import AppConfig
from engine.rates.breaker import BreakerSettings, BreakerState
from engine.rates.errors import RatesUnavailableError
from engine.rates.service import RateService
from providers.base import Pair, ProviderConfig, Quote
from providers.errors import ProviderUnavailableError

DOWN = ProviderUnavailableError("apilayer", "HTTP 503")
# The central bank's rates, a little off APILayer's (within the disagreement limit).
CBR = {pair: Quote(pair, q.close * Decimal("1.01")) for pair, q in APILAYER.items()}


def fallback_config(**sections: Any) -> AppConfig:
    """The shipped routing with fallbacks: apilayer → cbr, rapira → coingecko."""
    rules = [
        {"pairs": ["USDT/RUB"], "provider": ["rapira", "coingecko"], "price": "close"},
        {
            "pairs": ["USD/RUB", "EUR/RUB", "THB/RUB", "AED/RUB", "ZAR/RUB", "IDR/RUB"],
            "provider": ["apilayer", "cbr"],
            "price": "close",
        },
    ]
    sections.setdefault("routing", {**CONFIG["routing"], "rules": rules})
    config = make_config(**sections)
    providers = {
        **config.providers,
        "cbr": ProviderConfig(kind="cbr"),
        "coingecko": ProviderConfig(kind="coingecko"),
    }
    return config.model_copy(update={"providers": providers})


@pytest.fixture
def cbr() -> FakeProvider:
    return FakeProvider("cbr", CBR)


@pytest.fixture
def coingecko() -> FakeProvider:
    return FakeProvider(
        "coingecko", {Pair("USDT", "RUB"): Quote(Pair("USDT", "RUB"), Decimal("85.10"))}
    )


@pytest.fixture
def chained(
    rapira: FakeProvider,
    apilayer: FakeProvider,
    cbr: FakeProvider,
    coingecko: FakeProvider,
    clock: FakeClock,
) -> RateService:
    providers = {"rapira": rapira, "apilayer": apilayer, "cbr": cbr, "coingecko": coingecko}
    return RateService(
        fallback_config(),
        providers,
        clock,
        breaker=BreakerSettings(failure_threshold=2, open_seconds=30),
    )


async def test_the_first_provider_serves_while_it_can(
    chained: RateService, apilayer: FakeProvider, cbr: FakeProvider
) -> None:
    rate = await chained.get_rate("RUB", "USD")
    assert rate.sources == ("apilayer",) and rate.rate == Decimal("81.50")
    assert cbr.calls == []  # a fallback is not asked while the first one serves


async def test_the_next_provider_serves_when_the_first_is_down(
    chained: RateService, apilayer: FakeProvider, cbr: FakeProvider
) -> None:
    apilayer.error = DOWN
    rate = await chained.get_rate("RUB", "USD")
    assert rate.sources == ("cbr",) and rate.rate == Decimal("81.50") * Decimal("1.01")
    assert not rate.stale
    cross = await chained.get_rate("USDT", "THB")  # the card names each source used
    assert cross.sources == ("rapira", "cbr")


async def test_an_open_circuit_goes_straight_to_the_fallback(
    chained: RateService, apilayer: FakeProvider, cbr: FakeProvider, clock: FakeClock
) -> None:
    apilayer.error = DOWN
    await chained.get_rate("RUB", "EUR")
    clock.advance(25)
    await chained.refresh("cbr")  # the fallback's rates stay fresh
    with pytest.raises(ProviderUnavailableError):
        await chained.refresh("apilayer")  # the second failure in a row opens it
    assert chained.metrics().breakers["apilayer"] is BreakerState.OPEN
    calls = len(apilayer.calls)
    assert (await chained.get_rate("RUB", "EUR")).sources == ("cbr",)
    assert len(apilayer.calls) == calls  # not called while open
    clock.advance(30)
    apilayer.error = None
    assert (await chained.get_rate("RUB", "EUR")).sources == ("apilayer",)  # back first


async def test_a_pair_missing_from_the_first_is_served_by_the_next(
    chained: RateService, apilayer: FakeProvider
) -> None:
    async def without_idr(pairs: object) -> dict[Pair, Quote]:
        return {p: q for p, q in APILAYER.items() if p.base != "IDR"}

    apilayer.fetch = without_idr  # type: ignore[method-assign]
    assert (await chained.get_rate("RUB", "IDR")).sources == ("cbr",)
    assert (await chained.get_rate("RUB", "USD")).sources == ("apilayer",)


async def test_stale_first_choice_is_served_before_a_fresh_fallback(
    chained: RateService, apilayer: FakeProvider, cbr: FakeProvider, clock: FakeClock
) -> None:
    await chained.get_rate("RUB", "USD")
    apilayer.error = DOWN
    clock.advance(120)  # stale, within max_stale_seconds: still the first choice
    rate = await chained.get_rate("RUB", "USD")
    assert rate.sources == ("apilayer",) and rate.stale
    clock.advance(900)  # past it: the fallback
    assert (await chained.get_rate("RUB", "USD")).sources == ("cbr",)


async def test_nothing_from_any_provider_is_unavailable_naming_each(
    chained: RateService, apilayer: FakeProvider, cbr: FakeProvider
) -> None:
    apilayer.error = DOWN
    cbr.error = ProviderUnavailableError("cbr", "no answer within 5 s")
    with pytest.raises(
        RatesUnavailableError,
        match="RUB→AED: AED/RUB: nothing usable cached "
        "and apilayer: HTTP 503; cbr: no answer within 5 s",
    ):
        await chained.get_rate("RUB", "AED")
    assert (await chained.get_rate("RUB", "USDT")).sources == ("rapira",)


async def test_a_plugin_bug_is_logged_once_with_its_traceback_and_the_fallback_serves(
    chained: RateService,
    apilayer: FakeProvider,
    caplog: pytest.LogCaptureFixture,
    clock: FakeClock,
) -> None:
    async def broken(pairs: object) -> object:
        raise TypeError("'NoneType' object is not subscriptable")

    apilayer.fetch = broken  # type: ignore[method-assign, assignment]
    for _ in range(4):
        assert (await chained.get_rate("RUB", "USD")).sources == ("cbr",)
        clock.advance(61)
    bugs = [r for r in caplog.records if "raised TypeError (a bug in the plugin?)" in r.message]
    assert len(bugs) == 4 and all(r.exc_info for r in bugs)
    # Not an outage of the vendor: the breaker does not open.
    assert chained.metrics().breakers["apilayer"] is BreakerState.CLOSED


async def test_sources_that_disagree_are_logged_once_and_reported(
    rapira: FakeProvider,
    apilayer: FakeProvider,
    coingecko: FakeProvider,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cbr = FakeProvider(
        "cbr", {p: Quote(p, q.close * Decimal("1.05")) for p, q in APILAYER.items()}
    )
    service = RateService(
        fallback_config(),
        {"rapira": rapira, "apilayer": apilayer, "cbr": cbr, "coingecko": coingecko},
        clock,
    )
    await service.refresh("apilayer")
    await service.refresh("cbr")
    await service.refresh("cbr")
    rate = await service.get_rate("RUB", "USD")
    assert rate.sources == ("apilayer",)
    (gap,) = rate.disagreements
    assert (gap.pair, gap.first, gap.second) == (Pair("USD", "RUB"), "apilayer", "cbr")
    assert gap.percent == Decimal("5.00")
    warnings = [r for r in caplog.records if "sources disagree on USD/RUB" in r.message]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert "apilayer 81.50, cbr 85.5750 (5.00 % apart)" in warnings[0].getMessage()
    assert {str(g.pair) for g in service.metrics().disagreements} == {
        "USD/RUB",
        "EUR/RUB",
        "THB/RUB",
        "AED/RUB",
        "ZAR/RUB",
        "IDR/RUB",
    }


async def test_an_arithmetic_error_makes_only_its_direction_unavailable(
    rapira: FakeProvider,
    apilayer: FakeProvider,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A price no provider should let through; the engine must survive it anyway.
    huge = Quote(Pair("THB", "RUB"), Decimal("9E+999999"))
    apilayer.quotes[Pair("THB", "RUB")] = huge
    service = RateService(make_config(), {"rapira": rapira, "apilayer": apilayer}, clock)
    with pytest.raises(RatesUnavailableError, match="RUB→THB"):
        await service.quote("RUB", "THB", Decimal(2), Decimal(1000))
    with pytest.raises(RatesUnavailableError, match=r"USDT→THB: .*implausible"):
        await service.quote("USDT", "THB", Decimal(2), Decimal(1000))  # 85.30 ÷ 9E+999999
    rows = {(r.give, r.get): r for r in await service.snapshot()}
    assert rows["RUB", "THB"].rate is None and rows["USDT", "THB"].rate is None
    served = [k for k, r in rows.items() if r.rate is not None]
    assert len(served) == 12  # every other direction is listed
    quote, _ = await service.quote("RUB", "USD", Decimal(2), Decimal(1000))
    assert quote.result > 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    cached = {(r.give, r.get): r for r in await service.cached_snapshot()}
    assert cached["RUB", "THB"].rate is None and cached["RUB", "USD"].rate is not None


async def test_a_quote_without_the_routed_price_goes_to_the_next_provider(
    apilayer: FakeProvider, cbr: FakeProvider, coingecko: FakeProvider, clock: FakeClock
) -> None:
    # rapira's quote lacks the ask a side rule asks for; coingecko (close only) would not
    # do either, so the pair is unavailable rather than priced at another field.
    rules = [
        {
            "pairs": ["USDT/RUB"],
            "provider": ["rapira", "coingecko"],
            "price": {"client_buys": "ask", "client_sells": "bid"},
        },
        {"pairs": ["USD/RUB"], "provider": ["apilayer", "cbr"], "price": "close"},
    ]
    config = fallback_config(
        routing={**CONFIG["routing"], "rules": rules},
        directions={"RUB": ["USDT", "USD"]},
        preload={"enabled": False},
    )
    rapira = FakeProvider(
        "rapira", {Pair("USDT", "RUB"): Quote(Pair("USDT", "RUB"), Decimal("85.30"))}
    )
    service = RateService(
        config, {"rapira": rapira, "apilayer": apilayer, "cbr": cbr, "coingecko": coingecko}, clock
    )
    with pytest.raises(
        RatesUnavailableError,
        match=r"rapira: no usable ask price.*coingecko: "
        r"no usable ask price",
    ):
        await service.get_rate("RUB", "USDT")
    rapira.quotes = dict(RAPIRA)
    clock.advance(61)
    assert (await service.get_rate("RUB", "USDT")).rate == Decimal("85.40")


async def test_any_arithmetic_error_while_pricing_is_unavailable_not_a_crash(
    service: RateService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.rates.service as module

    def overflowing(*args: object, **kwargs: object) -> object:
        raise decimal.Overflow("above Emax")

    monkeypatch.setattr(module, "compute_quote", overflowing)
    with pytest.raises(RatesUnavailableError, match=r"RUB→USD: cannot price at 81\.50: Overflow"):
        await service.quote("RUB", "USD", Decimal(2), Decimal(1000))

    def unroundable(*args: object, **kwargs: object) -> object:
        raise decimal.InvalidOperation("quantize result has too many digits")

    monkeypatch.setattr(module, "round_rate", unroundable)
    rows = await service.snapshot()
    assert all(r.rate is None for r in rows)  # listed as unavailable, /rates still answers
