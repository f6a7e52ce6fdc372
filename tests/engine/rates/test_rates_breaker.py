"""Circuit breaker transitions with an injected clock."""

from __future__ import annotations

import asyncio
import logging

import pytest
from rates_fakes import FakeClock

from engine.rates.breaker import BreakerSettings, BreakerState, CircuitBreaker, CircuitOpenError
from providers.errors import ProviderRateLimitedError, ProviderUnavailableError


class Upstream:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = True

    async def __call__(self) -> str:
        self.calls += 1
        if self.fail:
            raise ProviderUnavailableError("apilayer", "timeout")
        return "ok"


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(
        "apilayer", BreakerSettings(failure_threshold=3, open_seconds=30), clock=clock
    )


async def fail_times(breaker: CircuitBreaker, upstream: Upstream, n: int) -> None:
    for _ in range(n):
        with pytest.raises(ProviderUnavailableError):
            await breaker.call(upstream)


async def test_opens_after_threshold_and_fails_fast(
    breaker: CircuitBreaker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    up = Upstream()
    await fail_times(breaker, up, 2)
    assert breaker.state is BreakerState.CLOSED
    with caplog.at_level(logging.WARNING, "engine.rates"):
        await fail_times(breaker, up, 1)
    assert breaker.state is BreakerState.OPEN
    assert "apilayer circuit open for 30 s after 3 failure(s)" in caplog.text
    with pytest.raises(CircuitOpenError, match="circuit open, next trial in 30 s"):
        await breaker.call(up)
    assert up.calls == 3  # the open circuit made no call


async def test_success_resets_the_failure_count(breaker: CircuitBreaker) -> None:
    up = Upstream()
    await fail_times(breaker, up, 2)
    up.fail = False
    assert await breaker.call(up) == "ok"
    up.fail = True
    await fail_times(breaker, up, 2)
    assert breaker.state is BreakerState.CLOSED


async def test_half_open_trial_success_closes(breaker: CircuitBreaker, clock: FakeClock) -> None:
    up = Upstream()
    await fail_times(breaker, up, 3)
    clock.advance(29.9)
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN
    up.fail = False
    assert await breaker.call(up) == "ok"
    assert breaker.state is BreakerState.CLOSED


async def test_half_open_trial_failure_reopens(breaker: CircuitBreaker, clock: FakeClock) -> None:
    up = Upstream()
    await fail_times(breaker, up, 3)
    clock.advance(30)
    await fail_times(breaker, up, 1)  # one failed trial is enough
    assert breaker.state is BreakerState.OPEN
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        await breaker.call(up)
    assert up.calls == 4


async def test_half_open_lets_exactly_one_trial_through(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    up = Upstream()
    await fail_times(breaker, up, 3)
    clock.advance(30)
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "ok"

    trial = asyncio.create_task(breaker.call(slow))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError):
        await breaker.call(up)
    gate.set()
    assert await trial == "ok"
    assert breaker.state is BreakerState.CLOSED


async def test_cancelled_trial_frees_the_slot(breaker: CircuitBreaker, clock: FakeClock) -> None:
    up = Upstream()
    await fail_times(breaker, up, 3)
    clock.advance(30)
    trial = asyncio.create_task(breaker.call(asyncio.Event().wait))
    await asyncio.sleep(0)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert breaker.state is BreakerState.HALF_OPEN
    up.fail = False
    assert await breaker.call(up) == "ok"


async def test_rate_limit_opens_at_once_for_retry_after(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    async def limited() -> str:
        raise ProviderRateLimitedError("apilayer", "quota exhausted", retry_after=3600)

    with pytest.raises(ProviderRateLimitedError):
        await breaker.call(limited)
    assert breaker.state is BreakerState.OPEN
    clock.advance(3599)
    assert breaker.state is BreakerState.OPEN
    clock.advance(1)
    assert breaker.state is BreakerState.HALF_OPEN


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="invalid breaker settings"):
        BreakerSettings(failure_threshold=0)
