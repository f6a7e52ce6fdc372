"""The rate service: cached, grouped, single-flight, guarded and budgeted access to providers.

``get_rate(give, get)`` resolves each leg of the direction's route. A leg names its
providers in the rule's order (``provider: [apilayer, cbr]``); the first that can serve
gives the leg's price:

1. a usable cached entry (fresh, or stale within its limit: served, flagged, and refreshed
   in the background);
2. else one upstream call for *every* pair that provider serves to some configured
   direction (so APILayer answers all fiats at once), shared by everyone asking meanwhile,
   behind its circuit breaker and, for a metered provider, its monthly budget;
3. else (an error, an open circuit, the budget spent, no usable price) the next provider.

When no provider can serve a leg the service raises :class:`RatesUnavailableError`, never a
made-up number, and only for the directions using that leg. Arithmetic trouble while
composing a rate (an ``ArithmeticError``) is the same: that direction is unavailable.

Every fetched quote passes the jump guard (:mod:`.guard`) before it replaces the cached
one. Two sources of one pair that disagree beyond ``guard.max_disagreement_percent`` are
logged when it starts and shown on ``/rates``.

Clocks: ``clock`` stamps entries (monotonic in one process; the Redis server's clock when
replicas share the store), ``timer`` runs breakers and the guard (monotonic), ``wall`` ages
data by the vendor's own timestamp (UTC epoch seconds).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial

from engine.config.models import AppConfig
from engine.rates.breaker import BreakerSettings, CircuitBreaker, CircuitOpenError
from engine.rates.budget import BudgetExhaustedError, Budgets, stretch
from engine.rates.cache import (
    CacheEntry,
    Freshness,
    MemoryQuoteStore,
    QuoteCache,
    QuoteStoreProtocol,
)
from engine.rates.coordination import FetchLockProtocol
from engine.rates.demand import direction_routes, provider_demand
from engine.rates.errors import PluginFailedError, RatesUnavailableError
from engine.rates.flight import SingleFlight
from engine.rates.guard import Disagreement, Hold, PriceGuard, disagreement
from engine.rates.metrics import RatesMetrics, UpstreamStats
from engine.rates.quote import Fixed, QuoteResult, compute_quote, display_rate, round_rate
from engine.rates.routing import Leg, NoRouteError, Route
from providers.base import Pair, Quote, RatesProviderProtocol, RequestCountingProtocol
from providers.errors import ProviderError

logger = logging.getLogger("engine.rates")

Entries = dict[Pair, CacheEntry]
# A composed rate outside this range is no rate a desk quotes (1 USDT = 1e-12 IDR…).
MIN_RATE = Decimal("1e-12")
MAX_RATE = Decimal("1e12")


@dataclass(frozen=True, slots=True)
class LegPick:
    """The price one leg is served from."""

    provider: str
    entry: CacheEntry
    stale: bool


@dataclass(frozen=True, slots=True)
class RateResult:
    """The market rate of a direction's display pair.

    Attributes:
        route: how the rate was formed.
        rate: ``route.display`` market rate at full precision.
        sources: the providers actually used, in leg order.
        fetched_at: clock seconds when the oldest leg was fetched.
        age_seconds: age of the oldest leg's data (the vendor's timestamp when it gives
            one, else the fetch).
        stale: some leg is past its TTL, flagged by its vendor, or held by the guard.
        held: the guard's holds on this route's pairs (a jump awaiting confirmation).
        disagreements: this route's pairs whose sources disagree.
    """

    route: Route
    rate: Decimal
    sources: tuple[str, ...]
    fetched_at: float
    age_seconds: float
    stale: bool
    held: tuple[Hold, ...] = ()
    disagreements: tuple[Disagreement, ...] = ()


@dataclass(frozen=True, slots=True)
class DirectionRate:
    """One configured direction for ``/rates``: its rate, or ``None`` when unavailable."""

    give: str
    get: str
    display: Pair
    rate: RateResult | None
    rounded: Decimal | None  # ``rate.rate`` rounded for display


def _requests_sent(provider: RatesProviderProtocol) -> int | None:
    return provider.requests_sent if isinstance(provider, RequestCountingProtocol) else None


class RateService:
    """Rates for the configured directions.

    Args:
        config: the application config (directions, routing, cache, providers, guard).
        providers: provider name → instance; must hold every provider a direction uses.
        clock: stamps cache entries (see the module docstring).
        store: entry storage; an in-memory LRU of ``cache.max_size`` by default.
        breaker: circuit-breaker thresholds, the same for every provider (``config.breaker``
            when None).
        fetch_lock: with a shared ``store``, makes the replicas sharing it call each provider
            once between them (see :mod:`.lock`); None calls upstream directly.
        timer: monotonic seconds for breakers and the guard (``clock`` when None).
        wall: UTC epoch seconds, to age data by the vendor's timestamp.
        budgets: the monthly budgets of metered providers (None: nobody is metered).

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
        timer: Callable[[], float] | None = None,
        wall: Callable[[], float] = time.time,
        budgets: Budgets | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._timer = timer or clock
        self._routes = direction_routes(config)
        self.demand: Mapping[str, tuple[Pair, ...]] = provider_demand(self._routes.values())
        missing = sorted(set(self.demand) - set(providers))
        if missing:
            raise ValueError(f"no provider instance for {', '.join(missing)}")
        self._providers = {name: providers[name] for name in self.demand}
        blocks = {name: config.providers.get(name) for name in self.demand}
        self._cache = QuoteCache(
            store if store is not None else MemoryQuoteStore(config.cache.max_size),
            ttl_seconds=config.cache.ttl_seconds,
            max_stale_seconds=config.cache.max_stale_seconds,
            clock=clock,
            wall=wall,
            provider_ttl={
                name: stretch(config.cache.ttl_seconds, block, config.budget)
                for name, block in blocks.items()
            },
            max_data_age={
                name: block.max_data_age_seconds
                for name, block in blocks.items()
                if block is not None and block.max_data_age_seconds is not None
            },
        )
        settings = breaker or BreakerSettings(
            config.breaker.failure_threshold, config.breaker.open_seconds
        )
        self._breakers = {
            name: CircuitBreaker(name, settings, clock=self._timer) for name in self.demand
        }
        self._upstream = {name: UpstreamStats() for name in self.demand}
        self._flight: SingleFlight[str, Entries] = SingleFlight()
        self._fetch_lock = fetch_lock
        self._guard = PriceGuard(config.guard, self._timer)
        self._budgets = budgets
        self._refused: set[str] = set()
        self._disagreeing: dict[Pair, Disagreement] = {}
        # Every provider that serves a pair, in rule order: who can confirm a jump.
        self._sources: dict[Pair, tuple[str, ...]] = {}
        for route in self._routes.values():
            for leg in route.legs:
                known = self._sources.get(leg.pair, ())
                self._sources[leg.pair] = known + tuple(p for p in leg.providers if p not in known)

    @property
    def budgets(self) -> Budgets | None:
        return self._budgets

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
            RatesUnavailableError: no provider of some leg can serve it now.
            NoRouteError: not a configured direction (a caller's bug).
        """
        route = self.route(give, get)
        try:
            if len(route.legs) == 1:  # no task for the common case
                picks = [await self._pick(route.legs[0])]
            else:
                picks = list(await asyncio.gather(*(self._pick(leg) for leg in route.legs)))
        except RatesUnavailableError as exc:
            raise RatesUnavailableError(f"{give}→{get}: {exc}") from exc.__cause__
        return await self._result(route, picks)

    async def quote(
        self, give: str, get: str, margin: Decimal, amount: Decimal, *, fixed: Fixed = "give"
    ) -> tuple[QuoteResult, RateResult]:
        """Price ``amount`` of ``give`` with ``margin`` percent (``fixed="receive"``:
        ``amount`` of ``get`` the client receives); see :func:`compute_quote`.

        Raises:
            RatesUnavailableError: as :meth:`get_rate`, or the quote cannot be computed.
            ValueError: margin outside ``[0, 100)`` or a non-positive amount.
        """
        rate = await self.get_rate(give, get)
        try:
            result = compute_quote(
                rate.route, rate.rate, margin, amount, config=self._config, fixed=fixed
            )
        except ArithmeticError as exc:
            raise RatesUnavailableError(
                f"{give}→{get}: cannot price at {rate.rate}: {type(exc).__name__}"
            ) from exc
        return result, rate

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
            return self._direction(give, get, route, rate)

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
            ProviderError: the upstream call failed, the circuit is open or the budget
                refuses it.
            KeyError: no configured direction uses ``provider``.
        """
        if if_older_than is not None:
            age = await self.provider_age(provider)
            if age is not None and age < if_older_than:
                return False
        # A peer replica's fetch counts if it is younger than asked (forced: none does).
        fetch = partial(self._fetch_now, provider, max_age=if_older_than or 0.0)
        await self._flight.run(provider, fetch)
        return True

    async def provider_age(self, provider: str) -> float | None:
        """Seconds since the oldest of ``provider``'s pairs was fetched; None if one is
        not cached at all.

        Raises:
            KeyError: no configured direction uses ``provider``.
        """
        ages = []
        for pair in self.demand[provider]:
            entry = await self._cache.peek((provider, pair))
            if entry is None:
                return None
            ages.append(self._cache.age(entry))
        return max(ages, default=None)

    async def cached_snapshot(self) -> list[DirectionRate]:
        """Every configured direction's rate from the cache alone, in config order.

        For health checks: no upstream call, no background refresh, and the reads are not
        counted in the cache stats. A direction no provider can serve from the cache has
        ``rate=None``.
        """
        result = []
        for (give, get), route in self._routes.items():
            rate = await self._cached_rate(route)
            result.append(self._direction(give, get, route, rate))
        return result

    def _direction(
        self, give: str, get: str, route: Route, rate: RateResult | None
    ) -> DirectionRate:
        rounded = None
        if rate is not None:
            try:
                rounded = round_rate(rate.rate, self._config.routing)
            except ArithmeticError as exc:
                logger.warning(
                    "rates: %s→%s rate %s cannot be shown: %s", give, get, rate.rate, exc
                )
                rate = None
        return DirectionRate(give, get, route.display, rate, rounded)

    async def _cached_rate(self, route: Route) -> RateResult | None:
        picks = []
        for leg in route.legs:
            pick = None
            for name in leg.providers:
                found = await self._usable(name, leg, count=False)
                if found is not None:
                    entry, freshness = found
                    pick = LegPick(name, entry, self._stale(name, leg.pair, freshness))
                    break
            if pick is None:
                return None
            picks.append(pick)
        try:
            return await self._result(route, picks)
        except RatesUnavailableError as exc:
            logger.debug("rates: %s→%s not servable from cache: %s", route.give, route.get, exc)
            return None

    async def _pick(self, leg: Leg) -> LegPick:
        """The first of the leg's providers that can serve it (see the module docstring).

        Raises:
            RatesUnavailableError: none can.
        """
        problems: list[str] = []
        cause: ProviderError | None = None
        for name in leg.providers:
            found = await self._usable(name, leg, count=True)
            if found is None:
                try:
                    await self._flight.run(name, partial(self._fetch_now, name))
                except ProviderError as exc:
                    problems.append(str(exc))
                    cause = cause or exc
                    continue
                found = await self._usable(name, leg, count=False)
                if found is None:
                    problems.append(f"{name}: no usable {leg.field} price for {leg.pair}")
                    continue
            entry, freshness = found
            if self._cache.due(name, entry):
                self._flight.start(name, partial(self._fetch_now, name))
            if name != leg.provider:
                logger.debug("rates: %s served by %s (fallback)", leg.pair, name)
            return LegPick(name, entry, self._stale(name, leg.pair, freshness))
        raise RatesUnavailableError(
            f"{leg.pair}: nothing usable cached and {'; '.join(problems)}"
        ) from cause

    def _stale(self, provider: str, pair: Pair, freshness: Freshness) -> bool:
        return freshness is Freshness.STALE or self._guard.held(provider, pair) is not None

    async def _usable(
        self, name: str, leg: Leg, *, count: bool
    ) -> tuple[CacheEntry, Freshness] | None:
        """``name``'s cached entry for the leg if it is servable and has the leg's price."""
        key = (name, leg.pair)
        found: tuple[CacheEntry, Freshness] | None
        if count:
            found = await self._cache.lookup(key)
        else:
            entry = await self._cache.peek(key)
            found = None
            if entry is not None:
                freshness = self._cache.freshness(name, entry)
                found = None if freshness is Freshness.EXPIRED else (entry, freshness)
        if found is None:
            return None
        price = found[0].quote.price(leg.field)
        if price is None or not price.is_finite() or price <= 0:
            return None
        return found

    async def _result(self, route: Route, picks: list[LegPick]) -> RateResult:
        """The display rate from the legs' picks, aged by the oldest leg's data.

        Raises:
            RatesUnavailableError: the rate cannot be computed from these quotes.
        """
        quotes: dict[Pair, Quote] = {
            leg.pair: p.entry.quote for leg, p in zip(route.legs, picks, strict=True)
        }
        try:
            rate = display_rate(route, quotes)
        except ArithmeticError as exc:
            raise RatesUnavailableError(
                f"{route.give}→{route.get}: cannot compose the rate: {type(exc).__name__}"
            ) from exc
        except RatesUnavailableError as exc:
            raise RatesUnavailableError(f"{route.give}→{route.get}: {exc}") from exc
        if not MIN_RATE <= rate <= MAX_RATE:  # e.g. a cross of two sane-looking extremes
            raise RatesUnavailableError(
                f"{route.give}→{route.get}: implausible {route.display} rate {rate:.6e}"
            )
        pairs = [leg.pair for leg in route.legs]
        held = tuple(h for h in self._guard.holds if h.pair in pairs)
        # Kept up to date as quotes arrive (_note_disagreement): no store reads per quote.
        gaps = [self._disagreeing.get(pair) for pair in pairs]
        return RateResult(
            route=route,
            rate=rate,
            sources=tuple(dict.fromkeys(p.provider for p in picks)),
            fetched_at=min(p.entry.fetched_at for p in picks),
            age_seconds=max(self._cache.data_age(p.entry) for p in picks),
            stale=any(p.stale for p in picks),
            held=held,
            disagreements=tuple(g for g in gaps if g is not None),
        )

    async def _servable(self, pair: Pair, *, but: str | None = None) -> list[tuple[str, Quote]]:
        """Each source's servable quote of ``pair`` (or its held one), in rule order."""
        found = []
        for name in self._sources.get(pair, ()):
            if name == but:
                continue
            hold = self._guard.held(name, pair)
            if hold is not None:
                found.append((name, hold.candidate))
                continue
            entry = await self._cache.peek((name, pair))
            if entry is not None and self._cache.freshness(name, entry) is not Freshness.EXPIRED:
                found.append((name, entry.quote))
        return found

    async def _disagreement(self, pair: Pair) -> Disagreement | None:
        if len(self._sources.get(pair, ())) < 2:
            return None
        return disagreement(self._config.guard, pair, await self._servable(pair))

    def metrics(self) -> RatesMetrics:
        """A snapshot of the cache, upstream, breaker and guard counters."""
        return RatesMetrics(
            cache=self._cache.stats,
            upstream={name: replace(stats) for name, stats in self._upstream.items()},
            breakers={name: b.state for name, b in self._breakers.items()},
            held_total=dict(self._guard.held_total),
            holds=tuple(self._guard.holds),
            disagreements=tuple(self._disagreeing.values()),
            budgets=tuple(self._budgets.last_status) if self._budgets is not None else (),
        )

    async def close(self) -> None:
        """Cancel background refreshes. Providers are closed by whoever created them."""
        await self._flight.cancel_all()

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

    async def _check_budget(self, name: str) -> None:
        """Raise :class:`BudgetExhaustedError` when ``name``'s budget refuses a call."""
        assert self._budgets is not None
        try:
            await self._budgets.check(name)
        except BudgetExhaustedError as exc:
            if name not in self._refused:
                self._refused.add(name)
                logger.warning(
                    "rates: %s not called: %s; the next source serves", name, exc.message
                )
            raise
        if name in self._refused:
            self._refused.discard(name)
            logger.info("rates: %s budget allows calls again", name)

    async def _call_upstream(self, name: str) -> Entries:
        pairs = self.demand[name]
        stats = self._upstream[name]
        provider = self._providers[name]
        metered = self._budgets is not None and self._budgets.metered(name)
        if metered:
            await self._check_budget(name)
        sent_before = _requests_sent(provider)
        called = False
        sent_at = self._clock()
        started = self._timer()

        async def attempt() -> Mapping[Pair, Quote]:
            nonlocal called
            called = True
            stats.calls += 1
            try:
                return await provider.fetch(pairs)
            except Exception:
                stats.errors += 1
                raise
            finally:
                stats.latency_seconds_sum += self._timer() - started

        try:
            quotes = await self._breakers[name].call(attempt)
        except CircuitOpenError as exc:
            logger.debug("rates: %s not called: %s", name, exc)
            raise
        except ProviderError as exc:
            logger.warning("rates: fetching %d pair(s) from %s failed: %s", len(pairs), name, exc)
            raise
        except Exception as exc:  # a plugin bug: keep the traceback, not an outage
            logger.exception(
                "rates: provider %s raised %s (a bug in the plugin?); the next source serves",
                name,
                type(exc).__name__,
            )
            raise PluginFailedError(name, f"plugin error {type(exc).__name__}") from exc
        finally:
            if metered and called and self._budgets is not None:
                after = _requests_sent(provider)
                spent = 1 if sent_before is None or after is None else after - sent_before
                await self._budgets.charge(name, spent)
        absent = [p for p in pairs if p not in quotes]
        if absent:
            logger.warning(
                "rates: %s returned no usable quote for %s", name, ", ".join(map(str, absent))
            )
        entries = await self._accept(name, quotes, sent_at)
        logger.debug("rates: fetched %d pair(s) from %s", len(entries), name)
        return entries

    async def _accept(self, name: str, quotes: Mapping[Pair, Quote], sent_at: float) -> Entries:
        """Store what the guard lets through; release holds it confirms; ask for
        confirmation of new holds; note disagreements."""
        entries: Entries = {}
        newly_held: list[Pair] = []
        for pair in self.demand[name]:
            quote = quotes.get(pair)
            if quote is None:
                continue
            # The last accepted quote is the reference even once too old to serve: a
            # jump held long enough to expire it is not thereby believable.
            previous = await self._cache.peek((name, pair))
            was_held = self._guard.held(name, pair) is not None
            others = await self._servable(pair, but=name)
            before = None if previous is None else previous.quote
            if self._guard.review(name, quote, sent_at, before, others):
                entries[pair] = CacheEntry(quote, sent_at)
            elif not was_held:
                newly_held.append(pair)
        await self._cache.put_many(name, entries)
        for pair, entry in entries.items():
            for hold in self._guard.confirmed_by(name, pair, entry.quote):
                confirmed = CacheEntry(hold.candidate, hold.candidate_fetched_at)
                await self._cache.put_many(hold.provider, {pair: confirmed})
        for other in dict.fromkeys(self._others(newly_held, name)):
            self._flight.start(other, partial(self._fetch_now, other))
        for pair in entries:
            await self._note_disagreement(pair)
        return entries

    def _others(self, pairs: list[Pair], name: str) -> Iterator[str]:
        for pair in pairs:
            yield from (p for p in self._sources.get(pair, ()) if p != name)

    async def _note_disagreement(self, pair: Pair) -> None:
        gap = await self._disagreement(pair)
        if gap is not None and pair not in self._disagreeing:
            logger.warning(
                "rates: sources disagree on %s: %s %s, %s %s (%.2f %% apart)",
                pair,
                gap.first,
                gap.first_close,
                gap.second,
                gap.second_close,
                gap.percent,
            )
        elif gap is None and pair in self._disagreeing:
            logger.info("rates: sources agree on %s again", pair)
        if gap is None:
            self._disagreeing.pop(pair, None)
        else:
            self._disagreeing[pair] = gap
