"""Per-provider circuit breaker: closed → open → half-open → closed (or open again).

* **closed**: calls pass; ``failure_threshold`` consecutive failures open the circuit. A
  :class:`~providers.errors.ProviderRateLimitedError` opens it at once, for at least its
  ``retry_after``: asking again sooner only spends quota.
* **open**: no upstream call is made; callers get :class:`CircuitOpenError` immediately,
  for ``open_seconds``.
* **half-open**: one trial call passes (others fail immediately while it runs); success
  closes the circuit, failure opens it again.

Only a :class:`~providers.errors.ProviderError` is a failure of the vendor. Anything else a
call raises (a plugin's ``TypeError``) passes through without counting: the vendor is not
down because our code is wrong. Timers use the monotonic clock given (never the wall
clock, which may be stepped).

Why our own: each candidate on PyPI (read at its latest release) lacks some of what this
needs: asyncio; the clock injected (the rates layer passes its monotonic ``timer``, tests
a FakeClock); exactly one half-open trial at a time while other callers fail fast (a
recovering vendor must not get the whole queue at once, tested); an open time stretched by
a 429's ``retry_after``; only :class:`ProviderError` counted.

* pybreaker 1.4.1 (2025-09): async only through Tornado (``call_async`` is a
  ``gen.coroutine``); ``datetime.now(UTC)``, a wall clock, fixed in the code; a threading
  lock around calls; half-open lets every concurrent caller through; one
  ``reset_timeout`` for every failure.
* circuitbreaker 2.1.3 (2025-03): asyncio works, but ``time.monotonic`` is imported at
  module level (no clock to pass); half-open is only a state name, every caller passes;
  one ``recovery_timeout``; no type information for ``mypy --strict``.
* purgatory 3.0.1 (2024-11): asyncio, named circuits, an exclude list, typed; but
  ``time.time()`` (a wall clock) not injectable, half-open admits every caller, one TTL per
  circuit; its redis extra pins redis<6 where aiogram's range starts at 6.2.
* aiobreaker 1.2.0 (2021-05), aiocircuitbreaker 2.0.0 (2022-01): unreleased for years;
  naive ``datetime.utcnow()`` (deprecated since Python 3.12: a warning, which our tests
  make an error), fixed timeouts, no single trial.

Wrapping one to add the trial guard, the stretch and the clock would take about the ~80
lines of logic below, plus a dependency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from providers.errors import ProviderError, ProviderRateLimitedError, ProviderUnavailableError

logger = logging.getLogger("engine.rates")

T = TypeVar("T")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """Thresholds; the rate service builds them from config.yaml's ``breaker`` block."""

    failure_threshold: int = 5
    open_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.open_seconds <= 0:
            raise ValueError(f"invalid breaker settings: {self}")


class CircuitOpenError(ProviderUnavailableError):
    """The provider's circuit is open: failed fast, no upstream call was made."""

    def __init__(self, provider: str, retry_in: float) -> None:
        super().__init__(provider, f"circuit open, next trial in {retry_in:.0f} s")
        self.retry_in = retry_in


class CircuitBreaker:
    """Guards the calls to one provider. Not thread-safe; one event loop."""

    def __init__(
        self,
        provider: str,
        settings: BreakerSettings = BreakerSettings(),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._open_for = settings.open_seconds
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        """The state now; an open circuit whose time is up reads as half-open."""
        if self._state is BreakerState.OPEN and self._remaining() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` if the circuit lets it through.

        Raises:
            CircuitOpenError: the circuit is open, or a half-open trial is already running.
        """
        trial = self._admit()
        try:
            result = await fn()
        except ProviderError as exc:
            self._on_failure(exc, trial)
            raise
        finally:
            if trial:
                self._trial_running = False
        self._on_success()
        return result

    def _remaining(self) -> float:
        return self._opened_at + self._open_for - self._clock()

    def _admit(self) -> bool:
        """Let a call through or raise; True when the call is the half-open trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.OPEN or self._trial_running:
            raise CircuitOpenError(self.provider, max(self._remaining(), 0.0))
        self._state = BreakerState.HALF_OPEN
        self._trial_running = True
        return True

    def _on_success(self) -> None:
        if self._state is not BreakerState.CLOSED:
            logger.info("rates: %s circuit closed", self.provider)
        self._state = BreakerState.CLOSED
        self._failures = 0

    def _on_failure(self, exc: Exception, trial: bool) -> None:
        self._failures += 1
        open_for = self.settings.open_seconds
        if isinstance(exc, ProviderRateLimitedError):
            open_for = max(open_for, exc.retry_after or 0.0)
        elif not trial and self._failures < self.settings.failure_threshold:
            return
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._open_for = open_for
        logger.warning(
            "rates: %s circuit open for %.0f s after %d failure(s): %s",
            self.provider,
            open_for,
            self._failures,
            exc,
        )
