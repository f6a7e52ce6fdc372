"""The rate cache shared by replicas through Redis, and the factory of the Redis backend.

An entry is one key, ``{prefix}{provider}:{BASE}/{QUOTE}``, holding JSON with every
Decimal as its string (``"85.30"`` stays ``Decimal("85.30")``, exponent included; never a
float), the fetch time on the Redis server's clock (:class:`RedisClock`), and what the
vendor said of its data (format 2; format 1, without ``as_of`` and ``stale``, is still
read)::

    {"v": 2, "pair": "USDT/RUB", "close": "85.30", "bid": "85.20", "ask": "85.40",
     "source": "rapira", "fetched_at": 1718000000.25, "as_of": null, "stale": false}

Every key expires ``entry_ttl_seconds`` after it is written (longer than any provider's
TTL plus ``max_stale_seconds``, after which an entry is useless anyway), so Redis holds at
most one key per provider and pair in use, whatever happens to the replicas.

Each replica also keeps what it wrote or read in a local LRU of ``max_size`` entries: when
Redis fails, reads fall back to it, writes go only there, and the replica goes on as if it
were alone (its own cache, its own upstream calls) instead of calling upstream per quote.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from engine.config.models import AppConfig
from engine.rates.budget import MemoryLedger, stretch
from engine.rates.cache import (
    CacheEntry,
    CacheKey,
    MemoryQuoteStore,
    entry_from_json,
    entry_to_json,
)
from engine.rates.lock import RedisFetchLock, RedisHealth, RedisLeaderLock

logger = logging.getLogger("engine.rates")

ENTRY_MARGIN_SECONDS = 60.0  # keys outlive their usefulness a little
LEDGER_EXPIRE_SECONDS = 40 * 24 * 3600  # a month's Redis counter outlives its month


def encode_entry(entry: CacheEntry) -> bytes:
    """The JSON of ``entry``; Decimals as strings."""
    return json.dumps(entry_to_json(entry), separators=(",", ":")).encode()


def decode_entry(raw: bytes | str) -> CacheEntry:
    """The entry :func:`encode_entry` wrote.

    Raises:
        ValueError: not such JSON (another format version, a float price, a missing field).
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a cache entry: {exc!r}") from exc
    return entry_from_json(data)


class RedisClock:
    """Wall-clock seconds as the Redis server tells them: one clock for every replica.

    Entry times are compared across replicas, whose own clocks may differ by minutes; the
    Redis server's ``TIME`` is the one they share. :meth:`sync` reads it and keeps the
    offset to this process's monotonic clock, so :meth:`__call__` is cheap, never blocks,
    and does not jump when the local wall clock is stepped. Before the first sync (or
    while Redis does not answer) it is the local wall clock.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._monotonic = monotonic
        self._offset = wall() - monotonic()
        self.synced = False

    def __call__(self) -> float:
        return self._monotonic() + self._offset

    async def sync(self) -> bool:
        """Align with the Redis server's clock; False (and unchanged) when it fails."""
        try:
            before = self._monotonic()
            seconds, micros = await self._redis.time()
            after = self._monotonic()
        except RedisError as exc:
            logger.debug("rates: Redis TIME failed: %s", exc)
            return False
        self._offset = seconds + micros / 1e6 - (before + after) / 2
        self.synced = True
        return True


class RedisQuoteStore:
    """:class:`~engine.rates.cache.QuoteStoreProtocol` over Redis, with a local fallback.

    ``get`` returns the newer of the Redis entry and the local one (the local one alone
    while Redis fails); ``put_many`` writes both, the Redis keys in one transaction so a
    reader sees all of a fetch or none of it. Redis errors are logged through ``health``
    and never raised. Entries that cannot be decoded are logged and treated as absent.

    ``evictions`` counts the local LRU's evictions: Redis keys only expire.

    Use it with a :class:`RedisClock`: ``fetched_at`` is compared across processes.

    Args:
        redis: the shared client.
        prefix: prepended to every key.
        max_size: entries of the local fallback LRU.
        entry_ttl_seconds: lifetime of a Redis key from its last write.
        health: shared Redis state (a private one by default).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "crypto_helper:rates:",
        max_size: int,
        entry_ttl_seconds: float,
        health: RedisHealth | None = None,
    ) -> None:
        if entry_ttl_seconds <= 0:
            raise ValueError(f"entry_ttl_seconds must be positive, got {entry_ttl_seconds}")
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = max(int(entry_ttl_seconds * 1000), 1)
        self._local = MemoryQuoteStore(max_size)
        self._health = health or RedisHealth()

    def redis_key(self, key: CacheKey) -> str:
        provider, pair = key
        return f"{self._prefix}{provider}:{pair.base}/{pair.quote}"

    async def get(self, key: CacheKey) -> CacheEntry | None:
        local = await self._local.get(key)
        if not self._health.available:
            return local
        name = self.redis_key(key)
        try:
            raw = await self._redis.get(name)
        except RedisError as exc:
            self._health.failed(f"reading {name}", exc)
            return local
        self._health.succeeded()
        shared = None if raw is None else self._decode(name, key, raw)
        if shared is None or (local is not None and local.fetched_at >= shared.fetched_at):
            return local
        await self._local.put_many({key: shared})  # kept should Redis fail later
        return shared

    async def put_many(self, entries: Mapping[CacheKey, CacheEntry]) -> None:
        await self._local.put_many(entries)
        if not entries or not self._health.available:
            return
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key, entry in entries.items():
                    pipe.set(self.redis_key(key), encode_entry(entry), px=self._ttl_ms)
                await pipe.execute()
        except RedisError as exc:
            self._health.failed(f"writing {len(entries)} entries", exc)
            return
        self._health.succeeded()

    @property
    def evictions(self) -> int:
        return self._local.evictions

    def _decode(self, name: str, key: CacheKey, raw: bytes | str) -> CacheEntry | None:
        try:
            entry = decode_entry(raw)
            if entry.quote.pair != key[1]:
                raise ValueError(f"holds {entry.quote.pair}")
        except ValueError as exc:
            logger.warning("rates: ignoring unreadable cache entry %s: %s", name, exc)
            return None
        return entry


class RedisLedger:
    """``INCRBY {prefix}budget:{provider}:{month}``: one count for every replica.

    While Redis fails, requests are counted locally (and logged), and added to Redis once
    it answers again, so a Redis outage never lets a replica spend unseen.
    """

    def __init__(self, redis: Redis, prefix: str = "crypto_helper:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._pending = MemoryLedger()
        self._last: dict[tuple[str, str], int] = {}

    def _key(self, provider: str, month: str) -> str:
        return f"{self._prefix}budget:{provider}:{month}"

    async def used(self, provider: str, month: str) -> int:
        pending = await self._pending.used(provider, month)
        try:
            raw = await self._redis.get(self._key(provider, month))
        except RedisError as exc:
            logger.debug("rates: budget ledger read failed: %s", exc)
            return self._last.get((provider, month), 0) + pending
        total = int(raw or 0)
        self._last[(provider, month)] = total
        return total + pending

    async def add(self, provider: str, month: str, count: int) -> int:
        # Only this provider's and month's pending count is sent (and then dropped): the
        # others' stay pending until their own next add.
        pending = await self._pending.used(provider, month)
        key = self._key(provider, month)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incrby(key, count + pending)
                pipe.expire(key, LEDGER_EXPIRE_SECONDS)
                total, _ = await pipe.execute()
        except RedisError as exc:
            logger.warning("rates: budget ledger unreachable, counting locally: %s", exc)
            local = await self._pending.add(provider, month, count)
            return self._last.get((provider, month), 0) + local
        await self._pending.add(provider, month, -pending)
        self._last[(provider, month)] = int(total)
        return int(total)


class RedisRatesBackend:
    """What replicas share through Redis: the client, the store and the two locks.

    Attributes:
        redis: the client (closed by :meth:`close`).
        store: for ``RateService(store=...)``.
        fetch_lock: for ``RateService(fetch_lock=...)``.
        leader: for ``Preloader(leader=...)``.
        ledger: the metered providers' monthly request counts, shared by the replicas.
        clock: the clock entries are stamped with (the Redis server's); timers (breakers,
            the preloader) stay on this process's monotonic clock.
    """

    def __init__(
        self,
        redis: Redis,
        store: RedisQuoteStore,
        fetch_lock: RedisFetchLock,
        leader: RedisLeaderLock,
        ledger: RedisLedger,
    ) -> None:
        self.redis = redis
        self.ledger = ledger
        self.store = store
        self.fetch_lock = fetch_lock
        self.leader = leader
        self.clock = RedisClock(redis)

    async def ping(self) -> bool:
        """Whether Redis answers now (for readiness); never raises."""
        try:
            # redis-py 7 types ping() as sync | async for both clients.
            return bool(await cast("Awaitable[bool]", self.redis.ping()))
        except RedisError as exc:
            logger.debug("rates: Redis ping failed: %s: %s", type(exc).__name__, exc)
            return False

    async def keep_clock(self, *, every: float = 600.0, retry: float = 30.0) -> None:
        """Re-align :attr:`clock` with Redis now and then (until cancelled): at start
        Redis may not have answered, and a monotonic clock drifts a little."""
        while True:
            synced = await self.clock.sync()
            await asyncio.sleep(every if synced else retry)

    async def close(self) -> None:
        """Close the client's connections."""
        await self.redis.aclose()


def create_redis_rates_backend(
    redis_url: str,
    config: AppConfig,
    *,
    prefix: str = "crypto_helper:",
    socket_timeout: float = 0.5,
    cooldown_seconds: float = 5.0,
) -> RedisRatesBackend:
    """The Redis client, store and locks for ``config``; no connection is made yet.

    TTLs follow the config: entries live as long as the longest provider TTL (stretched to
    its ``monthly_budget``) plus ``cache.max_stale_seconds`` (or its
    ``max_data_age_seconds``, if longer); a fetch lock a provider's
    ``timeout_seconds`` (which bounds the whole call, retries included) plus 1 s; the
    preloader lease three ``preload.interval_seconds`` plus the longest provider timeout.

    Args:
        redis_url: ``redis://[user:password@]host:port/db`` (or ``rediss://``, ``unix://``).
        config: the application config.
        prefix: of every key, so several bots may share a database.
        socket_timeout: per Redis command; a slow Redis must not slow every quote.
        cooldown_seconds: how long Redis is skipped after a failure.

    Raises:
        ValueError: a malformed ``redis_url``.
    """
    client = Redis.from_url(
        redis_url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 1),  # one retry for a connection dropped by a restart
    )
    health = RedisHealth(cooldown_seconds)
    providers = config.providers
    ttl = max(
        (
            max(
                stretch(config.cache.ttl_seconds, cfg, config.budget)
                + config.cache.max_stale_seconds,
                cfg.max_data_age_seconds or 0.0,
            )
            for cfg in providers.values()
        ),
        default=config.cache.ttl_seconds + config.cache.max_stale_seconds,
    )
    timeouts = {name: cfg.timeout_seconds for name, cfg in providers.items()}
    longest = max(timeouts.values(), default=10.0)
    store = RedisQuoteStore(
        client,
        prefix=f"{prefix}rates:",
        max_size=config.cache.max_size,
        entry_ttl_seconds=ttl + ENTRY_MARGIN_SECONDS,
        health=health,
    )
    fetch_lock = RedisFetchLock(
        client,
        prefix=f"{prefix}rates_fetch:",
        ttl_seconds=longest + 1.0,
        provider_ttl={name: timeout + 1.0 for name, timeout in timeouts.items()},
        health=health,
    )
    leader = RedisLeaderLock(
        client,
        key=f"{prefix}preloader:leader",
        ttl_seconds=3 * config.preload.interval_seconds + longest,
        health=health,
    )
    return RedisRatesBackend(client, store, fetch_lock, leader, RedisLedger(client, prefix))
