"""Background refresh of ``preload.pairs``: at start-up, then every interval.

Each provider serving a preloaded pair that some direction uses gets its own schedule:
``preload.interval_seconds`` stretched to the provider's ``monthly_budget`` (see
:mod:`.budget`), so a 100-request plan is called about every 8.3 h. A provider is refreshed
once its rates are that old, whoever fetched them: an on-demand fetch, a peer replica, or
this process before a restart (rates kept in ``DATA_DIR`` or Redis). Fallback providers of
a rule are kept warm too. A failed refresh is
logged (WARNING, with the cause) and retried with exponential backoff from
``interval_seconds``, capped at the provider's interval; it never stops the loop.

With a leader lock (replicas sharing Redis) only the replica holding it refreshes; it
renews the lock at least every ``interval_seconds``, and the others ask for it as often,
taking over once the leader stops (it releases the lock) or dies (the lock expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from engine.config.models import AppConfig
from engine.rates.budget import BudgetExhaustedError, stretch
from engine.rates.coordination import LeaderLockProtocol
from engine.rates.demand import preload_providers
from engine.rates.service import RateService
from providers.errors import ProviderError

logger = logging.getLogger("engine.rates")


class Preloader:
    """Keeps the cache warm for the preloaded pairs.

    Args:
        service: the rate service whose cache is warmed.
        config: ``preload`` and the provider configs (``monthly_budget``) are read.
        clock: monotonic seconds (never the wall clock: a clock step must not make it
            refetch early or stall).
        sleep: ``asyncio.sleep`` or a test double.
        leader: elects the one replica that refreshes (see :mod:`.lock`); None: this one.
    """

    def __init__(
        self,
        service: RateService,
        config: AppConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        leader: LeaderLockProtocol | None = None,
    ) -> None:
        self._service = service
        self._enabled = config.preload.enabled
        self._base = config.preload.interval_seconds
        self.intervals: Mapping[str, float] = {
            name: stretch(self._base, config.providers.get(name), config.budget)
            for name in preload_providers(config, service.demand)
        }
        self._clock = clock
        self._sleep = sleep
        self._due: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._leader = leader

    async def run_once(self) -> float:
        """Refresh every provider that is due; return the seconds until the next one is.

        With a leader lock it returns at most ``interval_seconds``: the leader must renew
        the lock by then, and a replica that does not lead (it refreshes nothing) asks for
        it again then.
        """
        if self._leader is not None and not await self._leader.hold():
            # A new leader checks everything at once; fresh shared entries are skipped.
            self._due.clear()
            return self._base
        now = self._clock()
        due = [name for name in self.intervals if self._due.get(name, now) <= now]
        await asyncio.gather(*(self._refresh(name, now) for name in due))
        wait = max(min(self._due.values(), default=now) - self._clock(), 0.0)
        return wait if self._leader is None else min(wait, self._base)

    async def run(self) -> None:
        """Refresh forever; returns only when cancelled."""
        while True:
            await self._sleep(await self.run_once())

    def start(self) -> None:
        """Start the loop as a task (no-op when disabled or nothing is preloaded)."""
        if not self._enabled or not self.intervals or self._task is not None:
            return
        logger.info(
            "rates: preloading %s",
            ", ".join(f"{n} every {s:.0f} s" for n, s in self.intervals.items()),
        )
        self._task = asyncio.create_task(self.run(), name="rates preloader")

    async def stop(self) -> None:
        """Cancel the loop, wait for it to end, and give up the leadership."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._leader is not None:
            await self._leader.release()

    async def _refresh(self, name: str, now: float) -> None:
        interval = self.intervals[name]
        try:
            # Not before the rates are `interval` old, whoever fetched them (an on-demand
            # fetch, a peer replica, or this process before a restart): a metered
            # provider's budget counts every call.
            age = await self._service.provider_age(name)
            if age is None or age >= interval:
                await self._service.refresh(name, if_older_than=interval)
                age = 0.0
        except Exception as exc:
            failures = self._failures[name] = self._failures.get(name, 0) + 1
            retry = min(self._base * 2 ** min(failures - 1, 20), interval)
            self._due[name] = now + retry
            if isinstance(exc, BudgetExhaustedError):
                logger.debug("rates: preload of %s: %s; retry in %.0f s", name, exc, retry)
            elif isinstance(exc, ProviderError):
                logger.warning(
                    "rates: preload of %s failed: %s; retry in %.0f s", name, exc, retry
                )
            else:  # a bug, not an outage: keep the traceback, keep the loop
                logger.exception("rates: preload of %s crashed; retry in %.0f s", name, retry)
            return
        self._failures.pop(name, None)
        self._due[name] = now + max(interval - age, 1.0)
