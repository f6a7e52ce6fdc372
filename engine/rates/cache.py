"""Leg-quote cache: bounded LRU storage, TTL with stale-while-revalidate, counters.

Entries are keyed by ``(provider, pair)`` and carry the time they were fetched. Their age
decides how they may be used (``ttl`` may be set per provider, see :mod:`.budget`)::

    age ≤ ttl                      fresh    served, no upstream call
    ttl < age, data age ≤ limit    stale    served, flagged, one background refresh
    data age > limit               expired  not served (counted as a miss)

The *data age* is the age of the data itself: when the vendor says when it made it
(``Quote.as_of``: APILayer's ``timestamp``, CBR's ``Date``), the time since then, else the
time since the fetch. ``limit`` is the provider's ``max_data_age_seconds`` or else
``ttl + max_stale_seconds``, so a three-day-old APILayer answer fetched a second ago is
expired, not "fetched just now". A quote the vendor flags (``Quote.stale``) is never fresh.

The storage sits behind :class:`QuoteStoreProtocol` so a store shared between processes
(Redis) can replace :class:`MemoryQuoteStore`; such a store must be given a clock shared
by the processes (see :class:`~engine.rates.redis_store.RedisClock`), since monotonic
times do not compare across processes. :class:`FileQuoteStore` keeps the entries of one
process across restarts in ``DATA_DIR``, so a restart does not spend a metered provider's
budget on rates it already has.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from cachetools import LRUCache

from providers.base import Pair, Quote

logger = logging.getLogger("engine.rates")
FORMAT_VERSION = 2  # 2 added as_of and stale; version 1 is still read

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
    """Ages entries of a store with an injected clock and counts reads.

    Args:
        clock: the clock entries are stamped with (``fetched_at``).
        wall: UTC epoch seconds, to age a quote by its ``as_of``.
        provider_ttl: ``ttl_seconds`` per provider, where it differs.
        max_data_age: the data-age limit per provider, where it differs from
            ``ttl + max_stale_seconds``.
    """

    def __init__(
        self,
        store: QuoteStoreProtocol,
        *,
        ttl_seconds: float,
        max_stale_seconds: float,
        clock: Callable[[], float],
        wall: Callable[[], float] = time.time,
        provider_ttl: Mapping[str, float] | None = None,
        max_data_age: Mapping[str, float] | None = None,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._max_stale = max_stale_seconds
        self._clock = clock
        self._wall = wall
        self._provider_ttl = dict(provider_ttl or {})
        self._max_data_age = dict(max_data_age or {})
        self._hits = self._misses = self._stale_hits = 0

    def ttl(self, provider: str) -> float:
        return self._provider_ttl.get(provider, self._ttl)

    def limit(self, provider: str) -> float:
        """The oldest data (by :meth:`data_age`) still served."""
        return self._max_data_age.get(provider, self.ttl(provider) + self._max_stale)

    def age(self, entry: CacheEntry) -> float:
        """Seconds since the entry was fetched."""
        return max(self._clock() - entry.fetched_at, 0.0)

    def data_age(self, entry: CacheEntry) -> float:
        """Seconds since the vendor made the data (at least since it was fetched)."""
        age = self.age(entry)
        if entry.quote.as_of is not None:
            age = max(age, self._wall() - entry.quote.as_of)
        return age

    def due(self, provider: str, entry: CacheEntry) -> bool:
        """Whether the entry is past its TTL: time to fetch again."""
        return self.age(entry) > self.ttl(provider)

    def freshness(self, provider: str, entry: CacheEntry) -> Freshness:
        if self.data_age(entry) > self.limit(provider):
            return Freshness.EXPIRED
        if self.due(provider, entry) or entry.quote.stale:
            return Freshness.STALE
        return Freshness.FRESH

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


def entry_to_json(entry: CacheEntry, fetched_at: float | None = None) -> dict[str, Any]:
    """``entry`` as JSON-safe data, every Decimal as its string (never a float)."""
    quote = entry.quote
    return {
        "v": FORMAT_VERSION,
        "pair": f"{quote.pair.base}/{quote.pair.quote}",
        "close": str(quote.close),
        "bid": None if quote.bid is None else str(quote.bid),
        "ask": None if quote.ask is None else str(quote.ask),
        "source": quote.source,
        "fetched_at": entry.fetched_at if fetched_at is None else fetched_at,
        "as_of": quote.as_of,
        "stale": quote.stale,
    }


def entry_from_json(data: Any) -> CacheEntry:
    """The entry :func:`entry_to_json` made (format 1 or 2).

    Raises:
        ValueError: not such data (another format version, a float price, a missing field).
    """
    try:
        if data["v"] not in (1, FORMAT_VERSION):
            raise ValueError(f"format version {data['v']!r}, expected {FORMAT_VERSION}")
        base, quote = data["pair"].split("/")
        fetched_at = _number(data["fetched_at"], "fetched_at")
        as_of = data.get("as_of")
        source, stale = data["source"], data.get("stale", False)
        if not isinstance(source, str) or not isinstance(stale, bool):
            raise ValueError(f"source {source!r} or stale {stale!r} is malformed")
        bid, ask = data["bid"], data["ask"]
        return CacheEntry(
            Quote(
                Pair(base, quote),
                _decimal(data["close"]),
                bid=None if bid is None else _decimal(bid),
                ask=None if ask is None else _decimal(ask),
                source=source,
                as_of=None if as_of is None else _number(as_of, "as_of"),
                stale=stale,
            ),
            fetched_at,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a cache entry: {exc!r}") from exc


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} {value!r} is not a number")
    return float(value)


def _decimal(text: object) -> Decimal:
    if not isinstance(text, str):  # a JSON number would have passed through a float
        raise ValueError(f"price {text!r} is not a string")
    try:
        value = Decimal(text)
    except ArithmeticError as exc:
        raise ValueError(f"price {text!r} is not a number") from exc
    if not value.is_finite():
        raise ValueError(f"price {text!r} is not finite")
    return value


class FileQuoteStore(MemoryQuoteStore):
    """:class:`MemoryQuoteStore` that keeps its entries in a JSON file across restarts.

    The file is rewritten (atomically) after each fetch: a few kilobytes a minute. Times
    are stored as wall-clock seconds and turned back into ``clock`` seconds on loading,
    so entries age across the restart as they would have in one process. An unreadable
    file is reported and ignored; a disk that refuses writes is reported and the store
    goes on in memory.

    Args:
        path: the file (``DATA_DIR/rates.json``).
        max_size: entries kept.
        clock: the service's clock (monotonic).
        wall: UTC epoch seconds.
    """

    def __init__(
        self,
        path: Path,
        max_size: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(max_size)
        self.path = path
        self._clock = clock
        self._wall = wall
        self._load()

    def _offset(self) -> float:
        """wall − clock: add to a clock time to get the wall time."""
        return self._wall() - self._clock()

    def _load(self) -> None:
        try:
            items = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            logger.warning("rates: ignoring unreadable %s: %s", self.path, exc)
            return
        offset = self._offset()
        loaded = 0
        for item in items if isinstance(items, list) else []:
            try:
                provider = item["provider"]
                entry = entry_from_json(item["entry"])
            except (KeyError, TypeError, ValueError) as exc:
                logger.warning("rates: ignoring an unreadable entry of %s: %s", self.path, exc)
                continue
            moved = CacheEntry(entry.quote, entry.fetched_at - offset)
            self._lru[(str(provider), entry.quote.pair)] = moved
            loaded += 1
        logger.info("rates: %d cached rate(s) restored from %s", loaded, self.path)

    async def put_many(self, entries: Mapping[CacheKey, CacheEntry]) -> None:
        await super().put_many(entries)
        offset = self._offset()
        items = [
            {"provider": provider, "entry": entry_to_json(e, e.fetched_at + offset)}
            for (provider, _), e in self._lru.items()
        ]
        write_atomically(self.path, json.dumps(items, indent=1))


_REFUSED: set[Path] = set()  # files whose last write failed: warned once, not per write


def write_atomically(path: Path, text: str) -> bool:
    """Replace ``path`` with ``text`` in one rename; False when the disk refuses.

    The first refusal is a WARNING; repeats are DEBUG until a write succeeds again.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        log = logger.debug if path in _REFUSED else logger.warning
        log("rates: cannot write %s (kept in memory only): %s", path, exc)
        _REFUSED.add(path)
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)
        return False
    if path in _REFUSED:
        _REFUSED.discard(path)
        logger.info("rates: %s written again", path)
    return True
