"""RateService: grouped fetches, single-flight, stale-while-revalidate, breaker, metrics."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from rates_fakes import APILAYER, FakeClock, FakeProvider, make_config

from engine.rates.breaker import BreakerSettings, BreakerState, CircuitOpenError
from engine.rates.cache import CacheStats
from engine.rates.errors import RatesUnavailableError
from engine.rates.routing import NoRouteError
from engine.rates.service import RateService
from providers.base import Pair, Quote
from providers.errors import ProviderUnavailableError

FIATS = tuple(sorted(APILAYER))
DOWN = ProviderUnavailableError("apilayer", "HTTP 503")


async def test_one_call_serves_every_pair_of_the_provider(
    service: RateService, apilayer: FakeProvider, rapira: FakeProvider
) -> None:
    rate = await service.get_rate("RUB", "USD")
    assert rate.rate == Decimal("81.50")
    assert apilayer.calls == [FIATS]
    for code in ("EUR", "THB", "AED", "ZAR", "IDR"):
        await service.get_rate("RUB", code)
    assert apilayer.calls == [FIATS]
    assert rapira.calls == []


async def test_pairs_nobody_offers_are_never_fetched(
    clock: FakeClock, apilayer: FakeProvider, rapira: FakeProvider
) -> None:
    config = make_config(directions={"RUB": ["USD", "EUR"]})
    service = RateService(config, {"apilayer": apilayer}, clock)  # rapira not even needed
    await service.get_rate("RUB", "EUR")
    assert apilayer.calls == [(Pair("EUR", "RUB"), Pair("USD", "RUB"))]
    assert service.demand == {"apilayer": (Pair("EUR", "RUB"), Pair("USD", "RUB"))}


async def test_hundred_concurrent_requests_make_one_upstream_call(
    service: RateService, apilayer: FakeProvider, rapira: FakeProvider
) -> None:
    apilayer.gate = rapira.gate = asyncio.Event()
    tasks = [asyncio.create_task(service.get_rate("USDT", "THB")) for _ in range(100)]
    await asyncio.sleep(0)
    apilayer.gate.set()
    results = await asyncio.gather(*tasks)
    assert {str(r.rate) for r in results} == {"31.76908752327746741154562383612663"}
    assert (len(apilayer.calls), len(rapira.calls)) == (1, 1)
    assert service.metrics().cache.misses == 200  # two legs each


async def test_fresh_rate_has_age_and_sources(service: RateService, clock: FakeClock) -> None:
    await service.get_rate("USDT", "IDR")
    clock.advance(42)
    rate = await service.get_rate("USDT", "IDR")
    assert (rate.sources, rate.age_seconds, rate.stale) == (("rapira", "apilayer"), 42, False)
    assert rate.fetched_at == clock.now - 42
    assert rate.route.display == Pair("USDT", "IDR")


async def test_stale_is_served_at_once_while_one_refresh_runs(
    service: RateService, apilayer: FakeProvider, clock: FakeClock
) -> None:
    await service.get_rate("RUB", "EUR")
    clock.advance(61)
    apilayer.gate = asyncio.Event()  # the refresh hangs until released
    first = await service.get_rate("RUB", "EUR")
    second = await service.get_rate("RUB", "USD")
    assert (first.stale, first.age_seconds, second.stale) == (True, 61, True)
    await asyncio.sleep(0)  # let the background refresh reach the provider
    await service.get_rate("RUB", "THB")
    assert len(apilayer.calls) == 2  # the initial fetch + ONE background refresh
    apilayer.quotes[Pair("EUR", "RUB")] = Quote(Pair("EUR", "RUB"), Decimal("95"))
    apilayer.gate.set()
    for _ in range(3):
        await asyncio.sleep(0)
    fresh = await service.get_rate("RUB", "EUR")
    assert (fresh.rate, fresh.stale, fresh.age_seconds) == (Decimal(95), False, 0)
    assert service.metrics().cache == CacheStats(hits=1, misses=1, stale_hits=3, evictions=0)


async def test_stale_survives_a_failing_refresh(
    service: RateService,
    apilayer: FakeProvider,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await service.get_rate("RUB", "ZAR")
    apilayer.error = DOWN
    clock.advance(600)
    with caplog.at_level(logging.WARNING, "engine.rates"):
        rate = await service.get_rate("RUB", "ZAR")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert rate.stale and rate.rate == Decimal("4.5120")
    assert "fetching 6 pair(s) from apilayer failed: apilayer: HTTP 503" in caplog.text


async def test_past_max_stale_is_refused(
    service: RateService, apilayer: FakeProvider, clock: FakeClock
) -> None:
    await service.get_rate("RUB", "AED")
    apilayer.error = DOWN
    clock.advance(60 + 900)
    assert (await service.get_rate("RUB", "AED")).stale  # the last servable second
    clock.advance(0.5)
    with pytest.raises(
        RatesUnavailableError, match="RUB→AED: AED/RUB: nothing usable cached and apilayer"
    ) as e:
        await service.get_rate("RUB", "AED")
    assert e.value.__cause__ is DOWN


async def test_failure_with_empty_cache_is_unavailable_not_a_number(
    service: RateService, apilayer: FakeProvider
) -> None:
    apilayer.error = DOWN
    with pytest.raises(RatesUnavailableError):
        await service.quote("RUB", "THB", Decimal(2), Decimal(1000))
    with pytest.raises(RatesUnavailableError):  # a cross needs both legs
        await service.get_rate("USDT", "THB")
    assert (await service.get_rate("USDT", "RUB")).rate == Decimal("85.30")


async def test_open_breaker_fails_fast_without_upstream_calls(
    rapira: FakeProvider, apilayer: FakeProvider, clock: FakeClock
) -> None:
    service = RateService(
        make_config(),
        {"rapira": rapira, "apilayer": apilayer},
        clock,
        breaker=BreakerSettings(failure_threshold=2, open_seconds=30),
    )
    apilayer.error = DOWN
    for _ in range(2):
        with pytest.raises(RatesUnavailableError):
            await service.get_rate("RUB", "USD")
    assert service.metrics().breakers["apilayer"] is BreakerState.OPEN
    with pytest.raises(RatesUnavailableError) as e:
        await service.get_rate("RUB", "USD")
    assert isinstance(e.value.__cause__, CircuitOpenError)
    assert len(apilayer.calls) == 2
    clock.advance(30)
    apilayer.error = None
    assert (await service.get_rate("RUB", "USD")).rate == Decimal("81.50")  # the trial
    assert service.metrics().breakers == {
        "rapira": BreakerState.CLOSED,
        "apilayer": BreakerState.CLOSED,
    }


async def test_partial_answer_leaves_the_missing_pair_unavailable(
    service: RateService, apilayer: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    async def partial(pairs: object) -> dict[Pair, Quote]:
        return {p: q for p, q in APILAYER.items() if p.base != "IDR"}

    apilayer.fetch = partial  # type: ignore[method-assign]
    with pytest.raises(RatesUnavailableError, match=r"RUB→IDR: IDR/RUB: .*no usable close"):
        await service.get_rate("RUB", "IDR")
    assert "apilayer returned no usable quote for IDR/RUB" in caplog.text
    assert (await service.get_rate("RUB", "USD")).rate == Decimal("81.50")


async def test_metrics_count_upstream_calls_errors_and_latency(
    service: RateService, apilayer: FakeProvider, rapira: FakeProvider, clock: FakeClock
) -> None:
    apilayer.clock, apilayer.latency = clock, 0.25
    await service.get_rate("RUB", "USD")
    apilayer.error = DOWN
    clock.advance(2000)
    with pytest.raises(RatesUnavailableError):
        await service.get_rate("RUB", "USD")
    m = service.metrics()
    assert (m.upstream["apilayer"].calls, m.upstream["apilayer"].errors) == (2, 1)
    assert m.upstream["apilayer"].latency_seconds_sum == 0.5
    assert m.upstream["rapira"].calls == 0
    m.upstream["apilayer"].calls = 99  # a snapshot, not the live counter
    assert service.metrics().upstream["apilayer"].calls == 2


async def test_snapshot_lists_every_direction_with_at_most_one_call_per_provider(
    service: RateService, apilayer: FakeProvider, rapira: FakeProvider
) -> None:
    rows = await service.snapshot()
    assert len(rows) == 14 and (len(apilayer.calls), len(rapira.calls)) == (1, 1)
    row = rows[-1]
    assert (row.give, row.get, str(row.display), str(row.rounded)) == (
        "USDT",
        "IDR",
        "USDT/IDR",
        "15086.66",
    )
    assert row.rate is not None and row.rate.age_seconds == 0


async def test_snapshot_marks_unavailable_directions(
    service: RateService, apilayer: FakeProvider
) -> None:
    apilayer.error = DOWN
    rows = await service.snapshot()
    available = [(r.give, r.get) for r in rows if r.rate is not None]
    assert available == [("RUB", "USDT"), ("USDT", "RUB")]
    assert all(r.rounded is None for r in rows if r.rate is None)
    assert len(apilayer.calls) == 1


async def test_budget_stretches_the_ttl_of_a_metered_provider(
    rapira: FakeProvider, apilayer: FakeProvider, clock: FakeClock
) -> None:
    service = RateService(make_config(budget=100), {"rapira": rapira, "apilayer": apilayer}, clock)
    await service.get_rate("USDT", "EUR")
    clock.advance(25_920)  # 30 days / 100 requests = 7.2 h
    rate = await service.get_rate("USDT", "EUR")
    assert len(apilayer.calls) == 1 and len(rapira.calls) == 2
    assert rate.age_seconds == 25_920 and rate.stale is False


async def test_refresh_if_older_than(
    service: RateService, apilayer: FakeProvider, clock: FakeClock
) -> None:
    assert await service.refresh("apilayer", if_older_than=30) is True
    clock.advance(29)
    assert await service.refresh("apilayer", if_older_than=30) is False
    clock.advance(1)
    assert await service.refresh("apilayer", if_older_than=30) is True
    assert len(apilayer.calls) == 2


async def test_unconfigured_direction_is_a_callers_bug(service: RateService) -> None:
    with pytest.raises(NoRouteError, match="USD→EUR is not a configured direction"):
        await service.get_rate("USD", "EUR")


def test_missing_provider_instance_fails_at_construction(rapira: FakeProvider) -> None:
    with pytest.raises(ValueError, match="no provider instance for apilayer"):
        RateService(make_config(), {"rapira": rapira})


async def test_close_cancels_a_background_refresh(
    service: RateService, apilayer: FakeProvider, clock: FakeClock
) -> None:
    await service.get_rate("RUB", "USD")
    clock.advance(61)
    apilayer.gate = asyncio.Event()
    await service.get_rate("RUB", "USD")
    await asyncio.sleep(0)
    await service.close()
    apilayer.gate.set()
    assert len(apilayer.calls) == 2
    assert not service._flight.in_flight("apilayer")
