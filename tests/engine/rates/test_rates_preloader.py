"""Preloader: budget stretching, failures that never stop the loop, clean start/stop."""

from __future__ import annotations

import asyncio
import logging

import pytest
from rates_fakes import FakeClock, FakeProvider, MeteredConfig, make_config

from engine.config.models import AppConfig
from engine.rates.breaker import BreakerState
from engine.rates.budget import MONTH_SECONDS, budget_interval, stretch
from engine.rates.preloader import Preloader
from engine.rates.service import RateService
from providers.base import Pair
from providers.errors import ProviderUnavailableError

FIAT_ONLY = {"enabled": True, "interval_seconds": 60, "pairs": ["USD/RUB", "EUR/RUB"]}


def build(
    config: AppConfig, clock: FakeClock, rapira: FakeProvider, apilayer: FakeProvider
) -> tuple[RateService, Preloader]:
    service = RateService(config, {"rapira": rapira, "apilayer": apilayer}, clock)
    return service, Preloader(service, config, clock=clock)


# Pacing spends 90 % of the budget, less a burst of 3 kept for retries: 100 → 87 a month.
@pytest.mark.parametrize(
    ("budget", "interval"),
    [
        (None, 0.0),
        (100, MONTH_SECONDS / 87),
        (1000, MONTH_SECONDS / 897),
        (MONTH_SECONDS, MONTH_SECONDS / (MONTH_SECONDS * 9 // 10 - 3)),
    ],
)
def test_budget_interval(budget: int | None, interval: float) -> None:
    assert budget_interval(MeteredConfig(kind="x", monthly_budget=budget)) == interval
    assert stretch(60, MeteredConfig(kind="x", monthly_budget=budget)) == max(60, interval)


def test_budget_interval_ignores_configs_without_a_budget() -> None:
    assert budget_interval(object()) == 0.0
    assert budget_interval(None) == 0.0


@pytest.mark.parametrize("budget", [0, -5, True, "100"])
def test_budget_interval_rejects_nonsense(budget: object) -> None:
    class Odd:
        monthly_budget = budget

    with pytest.raises(ValueError, match="monthly_budget must be a positive integer"):
        budget_interval(Odd())


def test_intervals_are_stretched_per_provider(
    clock: FakeClock, rapira: FakeProvider, apilayer: FakeProvider
) -> None:
    _, preloader = build(make_config(budget=100), clock, rapira, apilayer)
    assert preloader.intervals == {"rapira": 60, "apilayer": MONTH_SECONDS / 87}


async def test_thirty_days_stay_within_the_budget(
    clock: FakeClock, rapira: FakeProvider, apilayer: FakeProvider
) -> None:
    service, preloader = build(make_config(budget=100, preload=FIAT_ONLY), clock, rapira, apilayer)
    end = clock.now + MONTH_SECONDS
    while clock.now < end:
        clock.advance(await preloader.run_once())
        await service.get_rate("RUB", "USD")  # on-demand reads in between add no calls
    # t = 0 and every 30 days / 87 (the 88th falls on the last second): within 90 % of 100
    assert len(apilayer.calls) in (87, 88)
    assert rapira.calls == []


async def test_a_failing_provider_is_logged_and_retried_with_backoff(
    clock: FakeClock,
    rapira: FakeProvider,
    apilayer: FakeProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, preloader = build(make_config(budget=100), clock, rapira, apilayer)
    apilayer.error = ProviderUnavailableError("apilayer", "timeout after 5 s")
    with caplog.at_level(logging.WARNING, "engine.rates"):
        for _ in range(4):  # t = 0, 60, 120, 180
            clock.advance(await preloader.run_once())
    for retry in (60, 120, 240):  # doubling from interval_seconds, capped at 8.3 h
        assert (
            f"rates: preload of apilayer failed: apilayer: timeout after 5 s; retry in {retry} s"
        ) in caplog.text
    assert len(apilayer.calls) == 3  # t = 0, 60, 180
    assert len(rapira.calls) == 4  # untouched by its neighbour's failure
    apilayer.error = None
    clock.advance(240)
    await preloader.run_once()  # recovered: back on the 8.3 h schedule
    assert len(apilayer.calls) == 4
    clock.advance(25_919)
    await preloader.run_once()
    assert len(apilayer.calls) == 4


async def test_a_bug_is_logged_with_traceback_and_not_fatal(
    clock: FakeClock,
    rapira: FakeProvider,
    apilayer: FakeProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, preloader = build(make_config(), clock, rapira, apilayer)

    async def broken(pairs: object) -> object:
        raise KeyError("oops")

    apilayer.fetch = broken  # type: ignore[method-assign, assignment]
    assert await preloader.run_once() == 60
    bug = next(r for r in caplog.records if "raised KeyError (a bug in the plugin?)" in r.message)
    assert bug.levelname == "ERROR" and bug.exc_info is not None  # the traceback, once
    assert "preload of apilayer failed: apilayer: plugin error KeyError" in caplog.text
    assert len(rapira.calls) == 1
    for _ in range(10):  # a bug is not an outage: the breaker stays closed
        clock.advance(await preloader.run_once())
    assert service.metrics().breakers["apilayer"] is BreakerState.CLOSED
    await service.close()


async def test_unused_pairs_and_providers_are_never_preloaded(
    clock: FakeClock, rapira: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(directions={"RUB": ["USDT"]})
    service = RateService(config, {"rapira": rapira}, clock)
    with caplog.at_level(logging.WARNING, "engine.rates"):
        preloader = Preloader(service, config, clock=clock)
    assert preloader.intervals == {"rapira": 60}
    assert "preload pair USD/RUB is not used by any direction; not preloaded" in caplog.text
    await preloader.run_once()
    assert rapira.calls == [(Pair("USDT", "RUB"),)]


async def test_skips_a_provider_refreshed_on_demand_meanwhile(
    clock: FakeClock, rapira: FakeProvider, apilayer: FakeProvider
) -> None:
    service, preloader = build(make_config(), clock, rapira, apilayer)
    await preloader.run_once()
    clock.advance(59)
    await service.get_rate("RUB", "USDT")  # fresh, no call
    clock.advance(1.5)
    await service.get_rate("RUB", "USDT")  # stale → background refresh at t=60.5
    await asyncio.sleep(0)
    await preloader.run_once()  # due at t=60, but rapira is 0 s old: skipped
    assert len(rapira.calls) == 2 and len(apilayer.calls) == 2


async def test_start_and_stop(
    clock: FakeClock, rapira: FakeProvider, apilayer: FakeProvider
) -> None:
    service = RateService(make_config(), {"rapira": rapira, "apilayer": apilayer}, clock)
    slept: list[float] = []
    parked = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)
        if len(slept) == 3:
            parked.set()
            await asyncio.Event().wait()  # parked until cancelled

    preloader = Preloader(service, make_config(), clock=clock, sleep=sleep)
    preloader.start()
    preloader.start()  # idempotent
    await asyncio.wait_for(parked.wait(), 1)
    await preloader.stop()
    await preloader.stop()
    assert slept == [60, 60, 60]
    assert (len(rapira.calls), len(apilayer.calls)) == (3, 3)


async def test_disabled_preloader_does_not_start(
    clock: FakeClock, rapira: FakeProvider, apilayer: FakeProvider
) -> None:
    config = make_config(preload={"enabled": False, "pairs": ["USDT/RUB"]})
    _, preloader = build(config, clock, rapira, apilayer)
    preloader.start()
    await preloader.stop()
    assert rapira.calls == []
