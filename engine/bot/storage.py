"""In-memory FSM storage that does not grow without bound (one process, no Redis).

aiogram's :class:`MemoryStorage` keeps a record for every key ever touched, and
aiogram-dialog "deletes" a finished dialog by saving empty data under its own key, so a busy
bot gains ~0.4 KB per dialog forever (measured by ``bench/``: +8 MB per 100k updates). This
storage drops a record as soon as it is empty, never creates one on a read, and forgets
records idle for longer than ``idle_ttl`` (``storage.state_ttl_seconds``), as Redis does
with its key expiry. Measured again for issue 14 (200 admins, 50 ``/admin_bot`` each, the
real dispatcher in-process): aiogram's storage held 10 419 records after those 10 000
updates and grows by one per dialog for as long as the process lives; this one held 400. It
implements aiogram's public :class:`BaseStorage` over a dict of its own (it once subclassed
:class:`MemoryStorage` and reached into its undocumented ``storage`` dict).

With Redis, :class:`RenewingRedisEventIsolation` serialises one admin's updates as aiogram's
:class:`RedisEventIsolation` does, with locks sized for this bot. aiogram's lock lives 60 s
and is waited for without limit; when Redis pauses (a frozen VM, a failover) the ``SET`` of
a lock whose update already gave up lands when Redis resumes, and nothing releases it: that
admin's next update waited 59.6 s. Here a lock lives :data:`LOCK_TTL_SECONDS` and the update
holding it renews it every :data:`LOCK_RENEW_SECONDS` (with redis-py's
:meth:`Lock.reacquire`; the lock does not renew itself), so a lock nobody holds is gone
within seconds however long a live update runs; an update waits :data:`LOCK_WAIT_SECONDS` at
most for its turn. A release that fails (Redis gone again, or the lock expired during an
outage) is a WARNING, not a failed update: the lock expires by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from copy import copy
from dataclasses import dataclass, field
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

log = logging.getLogger(__name__)
# A lock nobody renews (its update gave up, or its process died) is gone after this long.
LOCK_TTL_SECONDS = 3.0
# How often the update holding a lock renews it: three chances before it would expire.
LOCK_RENEW_SECONDS = 1.0
# How long an update waits for the one before it (same admin) before it fails.
LOCK_WAIT_SECONDS = 30.0


@dataclass(slots=True)
class MemoryRecord:
    """One key's state and data."""

    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class CompactMemoryStorage(BaseStorage):
    """aiogram's in-memory storage without empty or idle records."""

    def __init__(
        self,
        idle_ttl: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_every: int = 1024,
    ) -> None:
        self.records: dict[StorageKey, MemoryRecord] = {}
        self.idle_ttl = idle_ttl
        self._clock = clock
        self._touched: dict[StorageKey, float] = {}
        self._sweep_every = sweep_every
        self._writes = 0

    def _record(self, key: StorageKey) -> MemoryRecord | None:
        record = self.records.get(key)
        if record is not None and self._clock() - self._touched.get(key, 0.0) > self.idle_ttl:
            self._forget(key)
            return None
        return record

    def _forget(self, key: StorageKey) -> None:
        self.records.pop(key, None)
        self._touched.pop(key, None)

    def _writable(self, key: StorageKey) -> MemoryRecord:
        record = self._record(key)
        if record is None:
            record = self.records[key] = MemoryRecord()
        return record

    def _wrote(self, key: StorageKey, record: MemoryRecord) -> None:
        if record.state is None and not record.data:
            self._forget(key)
        else:
            self._touched[key] = self._clock()
        self._writes += 1
        if self._writes % self._sweep_every == 0:
            self.sweep()

    def sweep(self) -> int:
        """Forget every record idle for longer than ``idle_ttl``; return how many."""
        limit = self._clock() - self.idle_ttl
        idle = [key for key, touched in self._touched.items() if touched < limit]
        for key in idle:
            self._forget(key)
        return len(idle)

    @property
    def size(self) -> int:
        """Records held. (Not ``__len__``: aiogram tests a storage for truth, and an empty
        one would be replaced by a plain MemoryStorage.)"""
        return len(self.records)

    async def close(self) -> None:
        """Nothing to release."""

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        record = self._writable(key)
        record.state = state.state if isinstance(state, State) else state
        self._wrote(key, record)

    async def get_state(self, key: StorageKey) -> str | None:
        record = self._record(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):  # as aiogram's MemoryStorage refuses
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        record = self._writable(key)
        record.data = data.copy()
        self._wrote(key, record)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = self._record(key)
        return record.data.copy() if record else {}

    async def get_value(
        self, storage_key: StorageKey, dict_key: str, default: Any | None = None
    ) -> Any | None:
        record = self._record(storage_key)
        return copy((record.data if record else {}).get(dict_key, default))


class LockWaitTimeoutError(LockError):
    """An update waited :data:`LOCK_WAIT_SECONDS` for its chat's lock: the previous update
    of that chat is still running (and is the one to blame, in its own log line)."""


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
            # redis-py 7 (aiogram[redis]'s range) leaves LockError's constructor untyped.
            raise LockWaitTimeoutError(  # type: ignore[no-untyped-call]
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
