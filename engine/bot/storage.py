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

With Redis, :mod:`engine.bot.redis_isolation` serialises one admin's updates; an update that
waited :data:`LOCK_WAIT_SECONDS` for its turn fails with :class:`LockWaitTimeoutError`
(defined here, so that the error router knows it without importing redis-py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from copy import copy
from dataclasses import dataclass, field
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

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


class LockWaitTimeoutError(Exception):
    """An update waited :data:`LOCK_WAIT_SECONDS` for its chat's lock: the previous update
    of that chat is still running (and is the one to blame, in its own log line)."""
