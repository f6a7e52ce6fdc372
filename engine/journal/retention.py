"""Retention: quotes older than ``journal.retention_days`` are removed once a day.

The first pass runs right after start (in the background: a start never waits for it),
then every 24 hours; a pass that fails (the database is away) is logged and tried again
in an hour. Replicas sharing one database each run it: a delete is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from engine.journal.errors import JournalUnavailableError

log = logging.getLogger(__name__)

DAY_SECONDS = 86_400.0
RETRY_SECONDS = 3_600.0


class ExpiringStoreProtocol(Protocol):
    async def delete_before(self, cutoff: datetime) -> int: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class Retention:
    """Removes old quotes daily.

    Args:
        store: the journal's store.
        days: how long a quote is kept.
        now: the wall clock (aware UTC).
    """

    def __init__(
        self,
        store: ExpiringStoreProtocol,
        days: int,
        *,
        now: Callable[[], datetime] = utc_now,
        every_seconds: float = DAY_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.store = store
        self.days = days
        self.now = now
        self.every_seconds = every_seconds
        self.retry_seconds = retry_seconds
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Remove what is older than the retention; returns how many rows went.

        Raises:
            JournalUnavailableError: the database could not be reached.
        """
        cutoff = self.now() - timedelta(days=self.days)
        removed = await self.store.delete_before(cutoff)
        if removed:
            log.info("journal: %d quote(s) older than %d days removed", removed, self.days)
        return removed

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
                pause = self.every_seconds
            except JournalUnavailableError as exc:
                log.warning(
                    "journal: removing old quotes failed (%s); next try in %g s",
                    exc.cause,
                    self.retry_seconds,
                )
                pause = self.retry_seconds
            except Exception:  # a bug: said loudly, and the next pass still comes
                log.exception("journal: removing old quotes failed (a bug)")
                pause = self.retry_seconds
            await asyncio.sleep(pause)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="journal retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
