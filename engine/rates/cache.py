"""Leg-quote cache: bounded LRU storage, TTL with stale-while-revalidate, counters.

Entries are keyed by ``(provider, pair)`` and carry the time they were fetched. Their age
decides how they may be used (``ttl`` may be set per provider, see :mod:`.budget`)::

    age ≤ ttl                      fresh    served, no upstream call
    ttl < age ≤ ttl + max_stale    stale    served, flagged, one background refresh
    age > ttl + max_stale          expired  not served (counted as a miss)

The storage sits behind :class:`QuoteStoreProtocol` so a store shared between processes
(Redis) can replace :class:`MemoryQuoteStore`; such a store must be given a wall clock
(``time.time``), since monotonic times do not compare across processes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cachetools import LRUCache

from providers.base import Pair, Quote

CacheKey = tuple[str, Pair]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    quote: Quote
    fetched_at: float  # the clock's seconds when the request was sent


class Freshness(StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class CacheStats:
    """``hits`` are fresh reads, ``stale_hits`` stale reads, ``misses`` absent or expired."""

    hits: int = 0
    misses: int = 0
    stale_hits: int = 0
    evictions: int = 0


class QuoteStoreProtocol(Protocol):
    """Where entries live. Bounded; may forget any entry at any time."""

    async def get(self, key: CacheKey) -> CacheEntry | None: ...

    async def put_many(self, entries: Mapping[CacheKey, CacheEntry]) -> None: ...

    @property
    def evictions(self) -> int:
        """Entries dropped for room so far (0 where the store cannot tell)."""
        ...


class _CountingLRU(LRUCache[CacheKey, CacheEntry]):
    evicted = 0

    def popitem(self) -> tuple[CacheKey, CacheEntry]:
        item = super().popitem()
        self.evicted += 1
        return item


class MemoryQuoteStore:
    """In-process LRU store of at most ``max_size`` entries."""

    def __init__(self, max_size: int) -> None:
        self._lru = _CountingLRU(maxsize=max_size)

    async def get(self, key: CacheKey) -> CacheEntry | None:
        return self._lru.get(key)

    async def put_many(self, entries: Mapping[CacheKey, CacheEntry]) -> None:
        for key, entry in entries.items():
            self._lru[key] = entry

    @property
    def evictions(self) -> int:
        return self._lru.evicted

    def __len__(self) -> int:
        return len(self._lru)


class QuoteCache:
    """Ages entries of a store with an injected clock and counts reads."""

    def __init__(
        self,
        store: QuoteStoreProtocol,
        *,
        ttl_seconds: float,
        max_stale_seconds: float,
        clock: Callable[[], float],
        provider_ttl: Mapping[str, float] | None = None,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._max_stale = max_stale_seconds
        self._clock = clock
        self._provider_ttl = dict(provider_ttl or {})
        self._hits = self._misses = self._stale_hits = 0

    def ttl(self, provider: str) -> float:
        return self._provider_ttl.get(provider, self._ttl)

    def age(self, entry: CacheEntry) -> float:
        return max(self._clock() - entry.fetched_at, 0.0)

    def freshness(self, provider: str, entry: CacheEntry) -> Freshness:
        age, ttl = self.age(entry), self.ttl(provider)
        if age <= ttl:
            return Freshness.FRESH
        return Freshness.STALE if age <= ttl + self._max_stale else Freshness.EXPIRED

    async def peek(self, key: CacheKey) -> CacheEntry | None:
        """The stored entry whatever its age, without counting a read."""
        return await self._store.get(key)

    async def lookup(self, key: CacheKey) -> tuple[CacheEntry, Freshness] | None:
        """A servable entry (fresh or stale) and its freshness, or None; counted."""
        entry = await self._store.get(key)
        freshness = Freshness.EXPIRED if entry is None else self.freshness(key[0], entry)
        if entry is None or freshness is Freshness.EXPIRED:
            self._misses += 1
            return None
        if freshness is Freshness.FRESH:
            self._hits += 1
        else:
            self._stale_hits += 1
        return entry, freshness

    async def put_many(self, provider: str, entries: Mapping[Pair, CacheEntry]) -> None:
        await self._store.put_many({(provider, pair): e for pair, e in entries.items()})

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self._hits, self._misses, self._stale_hits, self._store.evictions)
