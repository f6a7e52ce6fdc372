"""The rate service: cached, grouped, single-flight, circuit-broken access to providers.

``get_rate(give, get)`` reads each leg of the direction's route from the cache. A missing
or expired leg makes one upstream call for *every* pair its provider serves to some
configured direction (so APILayer answers all fiats at once), shared by everyone asking
meanwhile. A stale leg is served, flagged, and refreshed in the background. When nothing
usable is left the service raises :class:`RatesUnavailableError`, never a made-up number.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial

from engine.config.models import AppConfig
from engine.rates.breaker import BreakerSettings, CircuitBreaker, CircuitOpenError
from engine.rates.budget import stretch
from engine.rates.cache import (
    CacheEntry,
    Freshness,
    MemoryQuoteStore,
    QuoteCache,
    QuoteStoreProtocol,
)
from engine.rates.demand import direction_routes, provider_demand
from engine.rates.errors import RatesUnavailableError
from engine.rates.flight import SingleFlight
from engine.rates.lock import FetchLockProtocol
from engine.rates.metrics import RatesMetrics, UpstreamStats
from engine.rates.quote import QuoteResult, compute_quote, display_rate, round_rate
from engine.rates.routing import NoRouteError, Route
from providers.base import Pair, Quote, RatesProviderProtocol
from providers.errors import ProviderError

logger = logging.getLogger("engine.rates")

Entries = dict[Pair, CacheEntry]


@dataclass(frozen=True, slots=True)
class RateResult:
    """The market rate of a direction's display pair.

    Attributes:
        route: how the rate was formed.
        rate: ``route.display`` market rate at full precision.
        sources: provider names used, in leg order.
        fetched_at: clock seconds when the oldest leg was fetched.
        age_seconds: age of the oldest leg.
        stale: some leg is past its TTL (served while a refresh runs).
    """

    route: Route
    rate: Decimal
    sources: tuple[str, ...]
    fetched_at: float
    age_seconds: float
    stale: bool


@dataclass(frozen=True, slots=True)
class DirectionRate:
    """One configured direction for ``/rates``: its rate, or ``None`` when unavailable."""

    give: str
    get: str
    display: Pair
    rate: RateResult | None
    rounded: Decimal | None  # ``rate.rate`` rounded for display


class RateService:
    """Rates for the configured directions.

    Args:
        config: the application config (directions, routing, cache, providers).
        providers: provider name → instance; must hold every provider a direction uses.
        clock: seconds, monotonic in one process (``time.time`` for a shared store).
        store: entry storage; an in-memory LRU of ``cache.max_size`` by default.
        breaker: circuit-breaker thresholds, the same for every provider (``config.breaker``
            when None).
        fetch_lock: with a shared ``store``, makes the replicas sharing it call each provider
            once between them (see :mod:`.lock`); None calls upstream directly.

    A provider's TTL is ``cache.ttl_seconds`` stretched to its ``monthly_budget``, so a
    metered provider is not asked again before its share of the budget allows.

    Raises:
        ValueError: a provider used by a direction is missing from ``providers``.
    """

    def __init__(
        self,
        config: AppConfig,
        providers: Mapping[str, RatesProviderProtocol],
        clock: Callable[[], float] = time.monotonic,
        *,
        store: QuoteStoreProtocol | None = None,
        breaker: BreakerSettings | None = None,
        fetch_lock: FetchLockProtocol | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._routes = direction_routes(config)
        self.demand: Mapping[str, tuple[Pair, ...]] = provider_demand(self._routes.values())
        missing = sorted(set(self.demand) - set(providers))
        if missing:
            raise ValueError(f"no provider instance for {', '.join(missing)}")
        self._providers = {name: providers[name] for name in self.demand}
        ttl = {
            name: stretch(config.cache.ttl_seconds, config.providers.get(name))
            for name in self.demand
        }
        self._cache = QuoteCache(
            store if store is not None else MemoryQuoteStore(config.cache.max_size),
            ttl_seconds=config.cache.ttl_seconds,
            max_stale_seconds=config.cache.max_stale_seconds,
            clock=clock,
            provider_ttl=ttl,
        )
        settings = breaker or BreakerSettings(
            config.breaker.failure_threshold, config.breaker.open_seconds
        )
        self._breakers = {
            name: CircuitBreaker(name, settings, clock=clock) for name in self.demand
        }
        self._upstream = {name: UpstreamStats() for name in self.demand}
        self._flight: SingleFlight[str, Entries] = SingleFlight()
        self._fetch_lock = fetch_lock

    def route(self, give: str, get: str) -> Route:
        """The route of a configured direction.

        Raises:
            NoRouteError: ``give`` → ``get`` is not a configured direction.
        """
        route = self._routes.get((give, get))
        if route is None:
            raise NoRouteError(f"{give}→{get} is not a configured direction")
        return route

    async def get_rate(self, give: str, get: str) -> RateResult:
        """The market rate for ``give`` → ``get``.

        Raises:
            RatesUnavailableError: no fresh or stale rate and the upstream call failed.
            NoRouteError: not a configured direction (a caller's bug).
        """
        route = self.route(give, get)
        entries: Entries = {}
        missing: dict[str, None] = {}
        stale = False
        for leg in route.legs:
            found = await self._cache.lookup((leg.provider, leg.pair))
            if found is None:
                missing[leg.provider] = None
                continue
            entries[leg.pair], freshness = found
            if freshness is Freshness.STALE:
                stale = True
                self._flight.start(leg.provider, partial(self._fetch_now, leg.provider))
        if missing:
            entries.update(await self._fetch_missing(route, list(missing)))
        try:
            return self._result(route, entries, stale)
        except RatesUnavailableError as exc:
            raise RatesUnavailableError(f"{give}→{get}: {exc}") from exc

    async def quote(
        self, give: str, get: str, margin: Decimal, amount: Decimal
    ) -> tuple[QuoteResult, RateResult]:
        """Price ``amount`` of ``give`` with ``margin`` percent; see :func:`compute_quote`.

        Raises:
            RatesUnavailableError: as :meth:`get_rate`.
            ValueError: margin outside ``[0, 100)`` or a non-positive amount.
        """
        rate = await self.get_rate(give, get)
        return compute_quote(rate.route, rate.rate, margin, amount, config=self._config), rate

    async def snapshot(self) -> list[DirectionRate]:
        """Every configured direction's rate for ``/rates``, in config order.

        Reads through the cache: upstream calls only for what is missing or expired, at
        most one per provider. An unavailable direction has ``rate=None``.
        """

        async def one(give: str, get: str, route: Route) -> DirectionRate:
            try:
                rate: RateResult | None = await self.get_rate(give, get)
            except RatesUnavailableError as exc:
                logger.warning("rates: %s→%s unavailable for /rates: %s", give, get, exc)
                rate = None
            rounded = round_rate(rate.rate, self._config.routing) if rate else None
            return DirectionRate(give, get, route.display, rate, rounded)

        return list(
            await asyncio.gather(
                *(one(give, get, route) for (give, get), route in self._routes.items())
            )
        )

    async def refresh(self, provider: str, *, if_older_than: float | None = None) -> bool:
        """Fetch all of ``provider``'s pairs now (joining a fetch already running).

        With ``if_older_than``, skip when every pair is cached and younger than that.
        Returns whether a fetch happened.

        Raises:
            ProviderError: the upstream call failed or the circuit is open.
            KeyError: no configured direction uses ``provider``.
        """
        if if_older_than is not None:
            cached = [await self._cache.peek((provider, p)) for p in self.demand[provider]]
            if all(e is not None and self._cache.age(e) < if_older_than for e in cached):
                return False
        # A peer replica's fetch counts if it is younger than asked (forced: none does).
        fetch = partial(self._fetch_now, provider, max_age=if_older_than or 0.0)
        await self._flight.run(provider, fetch)
        return True

    async def cached_snapshot(self) -> list[DirectionRate]:
        """Every configured direction's rate from the cache alone, in config order.

        For health checks: no upstream call, no background refresh, and the reads are not
        counted in the cache stats. A direction with a missing or expired leg has ``rate=None``.
        """
        result = []
        for (give, get), route in self._routes.items():
            rate = await self._cached_rate(route)
            rounded = round_rate(rate.rate, self._config.routing) if rate else None
            result.append(DirectionRate(give, get, route.display, rate, rounded))
        return result

    async def _cached_rate(self, route: Route) -> RateResult | None:
        entries: Entries = {}
        stale = False
        for leg in route.legs:
            entry = await self._cache.peek((leg.provider, leg.pair))
            if entry is None:
                return None
            freshness = self._cache.freshness(leg.provider, entry)
            if freshness is Freshness.EXPIRED:
                return None
            stale = stale or freshness is Freshness.STALE
            entries[leg.pair] = entry
        try:
            return self._result(route, entries, stale)
        except RatesUnavailableError as exc:  # a cached quote lacks the routed price field
            logger.debug("rates: %s→%s not servable from cache: %s", route.give, route.get, exc)
            return None

    def _result(self, route: Route, entries: Entries, stale: bool) -> RateResult:
        """The display rate from the legs' entries, aged by the oldest leg.

        Raises:
            RatesUnavailableError: a leg's quote has no usable routed price.
        """
        quotes: dict[Pair, Quote] = {pair: e.quote for pair, e in entries.items()}
        rate = display_rate(route, quotes)
        fetched_at = min(e.fetched_at for e in entries.values())
        return RateResult(
            route=route,
            rate=rate,
            sources=tuple(dict.fromkeys(leg.provider for leg in route.legs)),
            fetched_at=fetched_at,
            age_seconds=max(self._clock() - fetched_at, 0.0),
            stale=stale,
        )

    def metrics(self) -> RatesMetrics:
        """A snapshot of the cache, upstream and breaker counters."""
        return RatesMetrics(
            cache=self._cache.stats,
            upstream={name: replace(stats) for name, stats in self._upstream.items()},
            breakers={name: b.state for name, b in self._breakers.items()},
        )

    async def close(self) -> None:
        """Cancel background refreshes. Providers are closed by whoever created them."""
        await self._flight.cancel_all()

    async def _fetch_missing(self, route: Route, names: list[str]) -> Entries:
        results = await asyncio.gather(
            *(self._flight.run(name, partial(self._fetch_now, name)) for name in names),
            return_exceptions=True,
        )
        entries: Entries = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, ProviderError):
                raise RatesUnavailableError(
                    f"{route.give}→{route.get}: nothing cached and {result}"
                ) from result
            if isinstance(result, BaseException):
                raise result
            for leg in route.legs:
                if leg.provider == name and leg.pair in result:
                    entries[leg.pair] = result[leg.pair]
        return entries

    async def _fetch_now(self, name: str, *, max_age: float | None = None) -> Entries:
        """Fetch ``name``'s pairs; with a fetch lock, once across the replicas.

        A replica that did not fetch takes a peer's entries when all of them are younger
        than ``max_age`` (the provider's TTL by default).
        """
        if self._fetch_lock is None:
            return await self._call_upstream(name)
        limit = self._cache.ttl(name) if max_age is None else max_age
        return await self._fetch_lock.run(
            name, partial(self._call_upstream, name), partial(self._shared, name, limit)
        )

    async def _shared(self, name: str, max_age: float) -> Entries | None:
        """Every pair of ``name`` as stored, if all are younger than ``max_age``; else None."""
        entries: Entries = {}
        for pair in self.demand[name]:
            entry = await self._cache.peek((name, pair))
            if entry is None or self._cache.age(entry) >= max_age:
                return None
            entries[pair] = entry
        return entries

    async def _call_upstream(self, name: str) -> Entries:
        pairs = self.demand[name]
        stats = self._upstream[name]
        provider = self._providers[name]
        sent_at = self._clock()

        async def attempt() -> Mapping[Pair, Quote]:
            stats.calls += 1
            try:
                return await provider.fetch(pairs)
            except Exception:
                stats.errors += 1
                raise
            finally:
                stats.latency_seconds_sum += self._clock() - sent_at

        try:
            quotes = await self._breakers[name].call(attempt)
        except CircuitOpenError as exc:
            logger.debug("rates: %s not called: %s", name, exc)
            raise
        except ProviderError as exc:
            logger.warning("rates: fetching %d pair(s) from %s failed: %s", len(pairs), name, exc)
            raise
        entries = {pair: CacheEntry(quotes[pair], sent_at) for pair in pairs if pair in quotes}
        if len(entries) < len(pairs):
            absent = ", ".join(str(p) for p in pairs if p not in quotes)
            logger.warning("rates: %s returned no quote for %s", name, absent)
        await self._cache.put_many(name, entries)
        logger.debug("rates: fetched %d pair(s) from %s", len(entries), name)
        return entries
