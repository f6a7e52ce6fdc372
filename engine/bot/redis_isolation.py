"""Redis event isolation for this bot: short locks, renewed while their update runs.

:class:`RenewingRedisEventIsolation` serialises one admin's updates as aiogram's
:class:`RedisEventIsolation` does, with locks sized for this bot. aiogram's lock lives 60 s
and is waited for without limit; when Redis pauses (a frozen VM, a failover) the ``SET`` of
a lock whose update already gave up lands when Redis resumes, and nothing releases it: that
admin's next update waited 59.6 s. Here a lock lives :data:`LOCK_TTL_SECONDS` and the update
holding it renews it every :data:`LOCK_RENEW_SECONDS` (with redis-py's
:meth:`Lock.reacquire`; the lock does not renew itself), so a lock nobody holds is gone
within seconds however long a live update runs; an update waits :data:`LOCK_WAIT_SECONDS` at
most for its turn. A release that fails (Redis gone again, or the lock expired during an
outage) is a WARNING, not a failed update: the lock expires by itself.

Its own module so that redis-py is imported only where Redis is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiogram.fsm.storage.base import KeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError, RedisError

from engine.bot.storage import (
    LOCK_RENEW_SECONDS,
    LOCK_TTL_SECONDS,
    LOCK_WAIT_SECONDS,
    LockWaitTimeoutError,
)

log = logging.getLogger("engine.bot.storage")


class RenewingRedisEventIsolation(RedisEventIsolation):
    """aiogram's :class:`RedisEventIsolation` with short locks renewed while held.

    Args:
        redis: the client (the FSM storage's).
        key_builder: builds the lock's key (``...:lock``), as for the storage.
        ttl: how long a lock lives unless renewed, in seconds.
        renew_every: how often the holder renews it, in seconds (less than ``ttl``).
        wait: how long an update waits for the lock, in seconds.
    """

    def __init__(
        self,
        redis: Redis,
        key_builder: KeyBuilder,
        *,
        ttl: float = LOCK_TTL_SECONDS,
        renew_every: float = LOCK_RENEW_SECONDS,
        wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        if not 0 < renew_every < ttl:
            raise ValueError(f"renew_every ({renew_every}) must be between 0 and ttl ({ttl})")
        super().__init__(
            redis, key_builder, lock_kwargs={"timeout": ttl, "blocking_timeout": wait}
        )
        self.renew_every = renew_every

    @contextlib.asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        name = self.key_builder.build(key, "lock")
        lock = Lock(self.redis, name, **self.lock_kwargs)
        if not await lock.acquire():
            waited = self.lock_kwargs["blocking_timeout"]
            raise LockWaitTimeoutError(
                f"another update of this chat held the lock for {waited:g} s"
            )
        renewal = asyncio.create_task(self._renew(lock), name=f"renew {name}")
        try:
            yield
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            await self._release(lock)

    async def _renew(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                await lock.reacquire()
            except LockNotOwnedError:
                log.warning("lock %s expired while its update ran; not renewed", lock.name)
                return
            except RedisError as exc:  # Redis unreachable: try again at the next beat
                log.warning("lock %s not renewed: %s", lock.name, exc)

    async def _release(self, lock: Lock) -> None:
        try:
            await lock.release()
        except LockNotOwnedError:
            log.warning("lock %s had expired when its update finished", lock.name)
        except RedisError as exc:
            log.warning("lock %s not released (%s); it expires by itself", lock.name, exc)
