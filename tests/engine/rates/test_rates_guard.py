"""The jump guard: a price far from the last accepted one is held until believable."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from rates_fakes import APILAYER, FakeClock, FakeProvider
from test_rates_fallback import CBR, fallback_config

from engine.rates.service import RateService
from providers.base import Pair, Quote

USD = Pair("USD", "RUB")


def jumped(quotes: dict[Pair, Quote], pair: Pair, factor: str) -> dict[Pair, Quote]:
    return {**quotes, pair: Quote(pair, quotes[pair].close * Decimal(factor))}


@pytest.fixture
def cbr() -> FakeProvider:
    return FakeProvider("cbr", CBR)


@pytest.fixture
def guarded(
    rapira: FakeProvider, apilayer: FakeProvider, cbr: FakeProvider, clock: FakeClock
) -> RateService:
    coingecko = FakeProvider("coingecko", {})
    providers = {"rapira": rapira, "apilayer": apilayer, "cbr": cbr, "coingecko": coingecko}
    return RateService(fallback_config(), providers, clock)


async def test_a_jump_is_held_and_the_last_good_rate_served_stale(
    guarded: RateService,
    apilayer: FakeProvider,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert (await guarded.get_rate("RUB", "USD")).rate == Decimal("81.50")
    apilayer.quotes = jumped(APILAYER, USD, "1.5")
    clock.advance(61)
    await guarded.refresh("apilayer")
    rate = await guarded.get_rate("RUB", "USD")
    assert rate.rate == Decimal("81.50") and rate.stale  # not 122.25
    assert rate.age_seconds == 61  # the age of the rate served, not of the fetch
    (hold,) = rate.held
    assert (hold.provider, hold.pair, hold.candidate.close) == (
        "apilayer",
        USD,
        Decimal("122.250"),
    )
    warning = next(r for r in caplog.records if "jumped" in r.message)
    assert warning.levelname == "WARNING"
    assert "apilayer USD/RUB jumped from 81.50 to 122.250 (+50.00 %): held" in warning.getMessage()
    metrics = guarded.metrics()
    assert metrics.held_total == {"apilayer": 1} and len(metrics.holds) == 1
    # The other pairs of the same answer were accepted.
    eur = await guarded.get_rate("RUB", "EUR")
    assert not eur.stale and eur.age_seconds == 0


async def test_back_to_back_fetches_are_no_confirmation_but_persisting_is(
    guarded: RateService, apilayer: FakeProvider, cbr: FakeProvider, clock: FakeClock
) -> None:
    cbr.error = Exception("not asked")  # type: ignore[assignment]
    await guarded.get_rate("RUB", "USD")
    apilayer.quotes = jumped(APILAYER, USD, "1.5")
    for _ in range(10):  # ten fetches within 290 s: still held
        await guarded.refresh("apilayer")
        clock.advance(29)
    assert (await guarded.get_rate("RUB", "USD")).rate == Decimal("81.50")
    assert guarded.metrics().held_total == {"apilayer": 1}  # one hold, not ten
    clock.advance(11)  # 300 s since it was first seen
    await guarded.refresh("apilayer")
    rate = await guarded.get_rate("RUB", "USD")
    assert rate.rate == Decimal("122.250") and not rate.held


async def test_another_source_confirming_releases_the_hold_at_once(
    guarded: RateService, apilayer: FakeProvider, cbr: FakeProvider, clock: FakeClock
) -> None:
    await guarded.get_rate("RUB", "USD")
    apilayer.quotes = jumped(APILAYER, USD, "1.5")
    cbr.quotes = jumped(CBR, USD, "1.48")  # the bank moved too
    clock.advance(61)
    await guarded.refresh("apilayer")  # held; the bank is asked for its view at once
    for _ in range(3):
        await asyncio.sleep(0)
    assert cbr.calls  # asked for confirmation in the background
    rate = await guarded.get_rate("RUB", "USD")
    assert rate.rate == Decimal("122.250") and rate.sources == ("apilayer",)
    assert not rate.held and not rate.stale


async def test_an_unconfirmed_jump_is_unavailable_once_the_old_rate_is_too_old(
    rapira: FakeProvider, apilayer: FakeProvider, cbr: FakeProvider, clock: FakeClock
) -> None:
    config = fallback_config(guard={"confirm_after_seconds": 3600})
    guarded = RateService(
        config,
        {
            "rapira": rapira,
            "apilayer": apilayer,
            "cbr": cbr,
            "coingecko": FakeProvider("coingecko", {}),
        },
        clock,
    )
    await guarded.get_rate("RUB", "USD")
    apilayer.quotes = jumped(APILAYER, USD, "0.5")
    clock.advance(61)
    await guarded.refresh("apilayer")
    clock.advance(900)  # the accepted rate is past max_stale: the bank serves
    rate = await guarded.get_rate("RUB", "USD")
    assert rate.sources == ("cbr",) and rate.rate == CBR[USD].close
    assert guarded.metrics().holds[0].candidate.close == Decimal("40.750")  # still held


async def test_a_second_jump_restarts_the_wait_and_a_return_clears_it(
    guarded: RateService, apilayer: FakeProvider, cbr: FakeProvider, clock: FakeClock
) -> None:
    cbr.error = Exception("not asked")  # type: ignore[assignment]
    await guarded.get_rate("RUB", "USD")
    apilayer.quotes = jumped(APILAYER, USD, "1.5")
    await guarded.refresh("apilayer")
    clock.advance(200)
    apilayer.quotes = jumped(APILAYER, USD, "2.0")  # a different level: a new hold
    await guarded.refresh("apilayer")
    clock.advance(200)
    await guarded.refresh("apilayer")
    assert (await guarded.get_rate("RUB", "USD")).held  # 200 s at the new level only
    apilayer.quotes = dict(APILAYER)  # back near the accepted price: accepted, hold gone
    await guarded.refresh("apilayer")
    rate = await guarded.get_rate("RUB", "USD")
    assert not rate.held and not rate.stale and rate.rate == Decimal("81.50")


async def test_moves_within_the_limit_pass(
    guarded: RateService, apilayer: FakeProvider, clock: FakeClock
) -> None:
    await guarded.get_rate("RUB", "USD")
    apilayer.quotes = jumped(APILAYER, USD, "1.099")
    clock.advance(61)
    await guarded.refresh("apilayer")
    assert (await guarded.get_rate("RUB", "USD")).rate == Decimal("81.50") * Decimal("1.099")
    assert guarded.metrics().held_total == {}
