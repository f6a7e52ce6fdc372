"""Coordination of replicas sharing one Redis: one upstream fetch, one preloader.

Both locks are redis-py's :class:`~redis.asyncio.lock.Lock` (``SET key token NX PX``, the
token naming the holder; release and renewal compare the token first, so a replica never
frees or extends a lock it has lost)::

    crypto_helper:rates_fetch:<provider>   one upstream call of that provider; the others
                                           wait for its entries in the shared store
    crypto_helper:preloader:leader         the replica running the preloader; renewed
                                           every loop, taken over once it expires

Ours on top is what the library does not do: a replica that finds the fetch lock held
waits for the holder's *result* in the shared store, not for the lock, and Redis trouble
never fails a quote. :class:`RedisHealth` turns the first failure into one WARNING and
skips Redis for a cool-down; meanwhile :class:`RedisFetchLock` lets each replica fetch on
its own and :class:`RedisLeaderLock` keeps a leader leading only until the lease it last
renewed runs out (on our clock: Redis cannot tell us then).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError, RedisError

logger = logging.getLogger("engine.rates")

T = TypeVar("T")


def holder_token() -> str:
    """A lock value naming this process: ``host/pid/random``, readable with ``redis-cli``."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _lock(redis: Redis, name: str, ttl_seconds: float) -> Lock:
    """A non-blocking :class:`Lock` (we poll for a result, not for the lock) whose token
    lives on the object, not per thread: one event loop uses it."""
    return redis.lock(name, timeout=ttl_seconds, blocking=False, thread_local=False)


class RedisHealth:
    """Whether Redis is worth asking, shared by the store and the locks of one process.

    After a failure Redis is skipped for ``cooldown_seconds`` (a hung server would
    otherwise cost a socket timeout per quote); the first failure of an outage is logged
    as a WARNING, later ones at DEBUG, the recovery at INFO.
    """

    def __init__(
        self, cooldown_seconds: float = 5.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._down_until = 0.0
        self._down = False

    @property
    def available(self) -> bool:
        return self._clock() >= self._down_until

    def failed(self, action: str, exc: Exception) -> None:
        self._down_until = self._clock() + self._cooldown
        if self._down:
            logger.debug("rates: Redis still unavailable (%s): %s", action, _describe(exc))
            return
        self._down = True
        logger.warning(
            "rates: Redis unavailable (%s): %s; each replica caches and fetches on its own, "
            "next try in %.0f s",
            action,
            _describe(exc),
            self._cooldown,
        )

    def succeeded(self) -> None:
        if self._down:
            self._down = False
            logger.info("rates: Redis available again; the rate cache is shared again")


class RedisFetchLock:
    """:class:`FetchLockProtocol` over Redis: ``{prefix}{key}`` held for one upstream call.

    A replica that finds the lock held polls every ``poll_seconds`` until the holder's
    entries appear (used instead of calling upstream) or the lock is gone (the holder
    failed or died: it then takes the lock and fetches itself). It waits at most the
    lock's TTL, then fetches anyway. Without Redis, it fetches at once.

    Args:
        redis: the shared client.
        prefix: prepended to the key (the provider name).
        ttl_seconds: how long a lock lives if its holder never releases it; should cover
            one whole upstream call (the provider's ``timeout_seconds`` plus a margin).
        provider_ttl: ``ttl_seconds`` per key, where it differs.
        health: shared Redis state (a private one by default).
        poll_seconds: pause between looks while another replica fetches.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "crypto_helper:rates_fetch:",
        ttl_seconds: float = 10.0,
        provider_ttl: Mapping[str, float] | None = None,
        health: RedisHealth | None = None,
        poll_seconds: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._provider_ttl = dict(provider_ttl or {})
        self._health = health or RedisHealth()
        self._poll = poll_seconds
        self._clock = clock
        self._sleep = sleep

    def ttl(self, key: str) -> float:
        return self._provider_ttl.get(key, self._ttl)

    async def run(
        self,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        shared: Callable[[], Awaitable[T | None]],
    ) -> T:
        name, ttl = self._prefix + key, self.ttl(key)
        deadline = self._clock() + ttl
        while self._health.available and self._clock() < deadline:
            lock = _lock(self._redis, name, ttl)
            try:
                won = await lock.acquire(token=holder_token())
            except RedisError as exc:
                self._health.failed(f"fetch lock {key}", exc)
                break
            self._health.succeeded()
            if won:
                try:
                    found = await shared()  # a peer may have finished just before
                    return found if found is not None else await fetch()
                finally:
                    await self._unlock(lock, name)
            found = await self._wait(lock, name, shared, deadline)
            if found is not None:
                logger.debug("rates: %s fetched by another replica", key)
                return found
        if self._health.available:
            logger.warning(
                "rates: %s: the replica fetching it gave no result within %.1f s; fetching here",
                key,
                ttl,
            )
        return await fetch()

    async def _wait(
        self, lock: Lock, name: str, shared: Callable[[], Awaitable[T | None]], deadline: float
    ) -> T | None:
        """The holder's result, or None once the lock is free, Redis fails or time is up."""
        while self._clock() < deadline:
            await self._sleep(self._poll)
            try:
                held = await lock.locked()
            except RedisError as exc:
                self._health.failed(f"fetch lock {name}", exc)
                return None
            # Read after the lock check: the holder writes its entries before releasing.
            found = await shared()
            if found is not None or not held:
                return found
        return None

    async def _unlock(self, lock: Lock, name: str) -> None:
        try:
            await lock.release()
        except LockNotOwnedError:  # expired mid-fetch: another replica may hold it now
            logger.warning(
                "rates: fetch lock %s expired before its fetch ended (TTL %.1f s); "
                "another replica may have fetched too",
                name,
                lock.timeout,
            )
        except RedisError as exc:  # it expires by itself
            self._health.failed(f"fetch lock release {name}", exc)


class RedisLeaderLock:
    """:class:`LeaderLockProtocol` over Redis: one key, a lease of ``ttl_seconds``.

    :meth:`hold` renews the key while this replica holds it (:meth:`Lock.reacquire`) and
    takes it when it is free (:meth:`Lock.acquire`, not blocking). While Redis is
    unreachable a leader keeps leading until the lease it last renewed would have expired
    (no other replica can have taken it before), then stops; a replica that was not
    leading does not start. So there is never more than one leader, and during a Redis
    outage possibly none (quotes are then fetched on demand).

    Args:
        redis: the shared client.
        key: the lock's key.
        ttl_seconds: the lease; a crashed leader is replaced after at most this long.
        health: shared Redis state (a private one by default).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        key: str = "crypto_helper:preloader:leader",
        ttl_seconds: float,
        health: RedisHealth | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = _lock(redis, key, ttl_seconds)
        self._ttl = ttl_seconds
        self._health = health or RedisHealth()
        self._clock = clock
        self._token = holder_token()
        self._owned = False  # the lock was ours at the last answer from Redis
        self._lease_until = 0.0
        self._leading = False

    async def hold(self) -> bool:
        if self._health.available:
            asked_at = self._clock()
            try:
                held = await self._take_or_renew()
            except RedisError as exc:
                self._health.failed("preloader leadership", exc)
            else:
                self._health.succeeded()
                self._lease_until = asked_at + self._ttl if held else 0.0
        leading = self._clock() < self._lease_until
        if leading != self._leading:
            logger.info(
                "rates: this replica %s the preloader (%s)",
                "now runs" if leading else "no longer runs",
                self._token,
            )
        self._leading = leading
        return leading

    async def _take_or_renew(self) -> bool:
        if self._owned:
            try:
                return await self._lock.reacquire()
            except LockNotOwnedError:  # expired (and maybe taken over): not ours to renew
                self._owned = False
        self._owned = bool(await self._lock.acquire(token=self._token))
        return self._owned

    async def release(self) -> None:
        leading, self._leading, self._lease_until = self._leading, False, 0.0
        owned, self._owned = self._owned, False
        if not (leading and owned) or not self._health.available:
            return
        try:
            await self._lock.release()
        except LockNotOwnedError:  # expired and maybe taken over: not ours to free
            return
        except RedisError as exc:  # it expires by itself
            self._health.failed("preloader leadership release", exc)
            return
        logger.info("rates: this replica gave up the preloader (%s)", self._token)
