"""The leg-quote cache: TTL ages, stale window, LRU bound, counters; single-flight."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from rates_fakes import FakeClock

from engine.rates.cache import (
    CacheEntry,
    CacheStats,
    Freshness,
    MemoryQuoteStore,
    QuoteCache,
    QuoteStoreProtocol,
)
from engine.rates.flight import SingleFlight
from providers.base import Pair, Quote

PAIR = Pair("USD", "RUB")


def entry(at: float, rate: str = "81.50", pair: Pair = PAIR) -> CacheEntry:
    return CacheEntry(Quote(pair, Decimal(rate)), fetched_at=at)


def make_cache(clock: FakeClock, max_size: int = 8) -> tuple[QuoteCache, MemoryQuoteStore]:
    store = MemoryQuoteStore(max_size)
    cache = QuoteCache(
        store, ttl_seconds=60, max_stale_seconds=900, clock=clock, provider_ttl={"metered": 3600}
    )
    return cache, store


def test_memory_store_satisfies_the_protocol() -> None:
    store: QuoteStoreProtocol = MemoryQuoteStore(1)
    assert store.evictions == 0


async def test_fresh_stale_expired_boundaries(clock: FakeClock) -> None:
    cache, _ = make_cache(clock)
    await cache.put_many("apilayer", {PAIR: entry(clock.now)})
    key = ("apilayer", PAIR)
    clock.advance(60)  # age == ttl: still fresh
    assert (await cache.lookup(key) or (None, None))[1] is Freshness.FRESH
    clock.advance(0.001)
    assert (await cache.lookup(key) or (None, None))[1] is Freshness.STALE
    clock.advance(900 - 0.001)  # age == ttl + max_stale: last stale second
    assert (await cache.lookup(key) or (None, None))[1] is Freshness.STALE
    clock.advance(0.001)
    assert await cache.lookup(key) is None
    assert await cache.peek(key) is not None  # still stored, just not servable
    assert cache.stats == CacheStats(hits=1, misses=1, stale_hits=2, evictions=0)


async def test_ttl_per_provider(clock: FakeClock) -> None:
    cache, _ = make_cache(clock)
    await cache.put_many("metered", {PAIR: entry(clock.now)})
    clock.advance(3000)
    assert cache.ttl("metered") == 3600 and cache.ttl("other") == 60
    assert (await cache.lookup(("metered", PAIR)) or (None, None))[1] is Freshness.FRESH


async def test_missing_key_is_a_miss(clock: FakeClock) -> None:
    cache, _ = make_cache(clock)
    assert await cache.lookup(("apilayer", PAIR)) is None
    assert cache.stats.misses == 1


async def test_lru_eviction_at_max_size(clock: FakeClock) -> None:
    cache, store = make_cache(clock, max_size=3)
    pairs = [Pair(f"C{i}", "RUB") for i in range(5)]
    await cache.put_many("p", {p: entry(clock.now, pair=p) for p in pairs[:3]})
    assert await cache.lookup(("p", pairs[0])) is not None  # C0 is now most recently used
    await cache.put_many("p", {p: entry(clock.now, pair=p) for p in pairs[3:]})
    assert len(store) == 3
    kept = [p for p in pairs if await cache.peek(("p", p)) is not None]
    assert kept == [pairs[0], pairs[3], pairs[4]]
    assert cache.stats.evictions == 2


async def test_memory_stays_bounded_for_any_number_of_pairs(clock: FakeClock) -> None:
    cache, store = make_cache(clock, max_size=16)
    for i in range(10_000):
        await cache.put_many("p", {Pair(f"C{i}", "RUB"): entry(clock.now)})
    assert len(store) == 16
    assert cache.stats.evictions == 10_000 - 16


async def test_negative_age_from_a_skewed_clock_reads_as_zero(clock: FakeClock) -> None:
    cache, _ = make_cache(clock)
    assert cache.age(entry(clock.now + 5)) == 0.0


async def test_single_flight_shares_one_call() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    gate = asyncio.Event()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    waiters = [asyncio.create_task(flight.run("k", work)) for _ in range(100)]
    await asyncio.sleep(0)
    assert flight.in_flight("k")
    gate.set()
    assert await asyncio.gather(*waiters) == [42] * 100
    assert calls == 1
    await asyncio.sleep(0)
    assert not flight.in_flight("k")


async def test_single_flight_survives_a_cancelled_waiter() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> int:
        await gate.wait()
        return 7

    first = asyncio.create_task(flight.run("k", work))
    second = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == 7


async def test_single_flight_failure_reaches_every_waiter_then_clears() -> None:
    flight: SingleFlight[str, int] = SingleFlight()

    async def boom() -> int:
        await asyncio.sleep(0)
        raise RuntimeError("down")

    results = await asyncio.gather(
        flight.run("k", boom), flight.run("k", boom), return_exceptions=True
    )
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    await asyncio.sleep(0)
    assert not flight.in_flight("k")
