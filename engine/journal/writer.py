"""The journal writer: a quote is recorded without waiting for the database.

:meth:`JournalWriter.record` is synchronous and never blocks: it puts the entry into a
bounded in-memory queue (:data:`MAX_QUEUE`) and returns. One background task writes what
is queued in batches. When a write fails it logs one WARNING with the cause (no
traceback), counts it, keeps the entries, and tries again after an exponential backoff
(0.5 s doubling to 30 s); the first write that succeeds again logs one INFO line. When
the queue is full the oldest entry waiting is dropped, counted, and a WARNING says so
(once a minute at most): the newest quotes are the ones a desk asks about. At shutdown
:meth:`JournalWriter.close` writes what is queued, trying again every 0.5 s for a bounded
time. A batch that fails for another reason than the database (a bug) is logged as an
ERROR with its traceback and dropped, so one bad entry cannot stop the journal.

Hand-written rather than a library's: a job queue (arq, Celery) would put a broker
between a quote and its row, and SQLAlchemy has no write-behind buffer; the part that
matters here (never block, bound memory, count, back off) is this module's 200 lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.journal.entry import JournalEntry
from engine.journal.errors import JournalUnavailableError

log = logging.getLogger(__name__)

MAX_QUEUE = 10_000
BATCH_SIZE = 500
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
FLUSH_SECONDS = 3.0  # at shutdown: inside the 10 s a SIGTERM has
CLOSING_RETRY_SECONDS = 0.5  # between tries while the shutdown flush lasts
DROP_WARNING_EVERY_SECONDS = 60.0


class JournalSinkProtocol(Protocol):
    """Where the writer writes (:class:`~engine.journal.store.JournalStore`)."""

    async def insert(self, entries: list[JournalEntry]) -> None: ...


@dataclass(frozen=True, slots=True)
class JournalStats:
    """The writer's counters, for /metrics and /health/ready."""

    backend: str
    written: int  # rows written since start
    failures: int  # writes that failed
    dropped: int  # entries dropped because the queue was full
    waiting: int  # entries not written yet
    last_error: str | None  # the cause of the last write, while it is failing

    @property
    def degraded(self) -> bool:
        """The last write failed: quotes wait in memory until the database is back."""
        return self.last_error is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "degraded" if self.degraded else "ok",
            "backend": self.backend,
            "waiting": self.waiting,
            "written": self.written,
            "failures": self.failures,
            "dropped": self.dropped,
            "last_error": self.last_error,
        }


class JournalWriter:
    """Queues entries and writes them in the background.

    Args:
        sink: the store.
        backend: ``"sqlite"`` or ``"postgresql"`` (shown on /health/ready).
        max_queue: entries held at most (written or not); the oldest goes when full.
        batch_size: entries per write.
        backoff: first and longest pause after a failed write, in seconds.
        clock: monotonic seconds (for the drop warnings).
    """

    def __init__(
        self,
        sink: JournalSinkProtocol,
        *,
        backend: str = "sqlite",
        max_queue: int = MAX_QUEUE,
        batch_size: int = BATCH_SIZE,
        backoff: tuple[float, float] = (BACKOFF_FIRST_SECONDS, BACKOFF_MAX_SECONDS),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.backend = backend
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.backoff = backoff
        self.clock = clock
        self._queue: deque[JournalEntry] = deque()
        self._in_flight: list[JournalEntry] = []
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._written = 0
        self._failures = 0
        self._dropped = 0
        self._dropped_since_warning = 0
        self._last_drop_warning: float | None = None
        self._last_error: str | None = None

    # -- the quote's side -----------------------------------------------------------------

    def record(self, entry: JournalEntry) -> None:
        """Queue ``entry`` for writing; returns at once, whatever the database does."""
        if len(self._queue) + len(self._in_flight) >= self.max_queue:
            if self._queue:
                self._queue.popleft()
                self._drop_one()
            else:  # every slot is in the batch being written: this one cannot wait
                self._drop_one()
                return
        self._queue.append(entry)
        self._idle.clear()
        self._wake.set()

    def _drop_one(self) -> None:
        self._dropped += 1
        self._dropped_since_warning += 1
        now = self.clock()
        last = self._last_drop_warning
        if last is None or now - last >= DROP_WARNING_EVERY_SECONDS:
            log.warning(
                "journal: queue full (%d quotes waiting; %s): %d oldest dropped unwritten",
                self.max_queue,
                self._last_error or "the database is slow",
                self._dropped_since_warning,
            )
            self._last_drop_warning = now
            self._dropped_since_warning = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background task (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="journal writer")

    async def close(self, seconds: float = FLUSH_SECONDS) -> None:
        """Write what is queued, for ``seconds`` at most, then stop; what is still
        waiting then is logged as lost."""
        self._closing.set()
        self._wake.set()
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif task.exception() is not None:
            log.error("journal writer failed", exc_info=task.exception())
        left = len(self._queue) + len(self._in_flight)
        if left:
            log.warning(
                "journal: %d quote(s) not written at shutdown (%s)",
                left,
                self._last_error or f"no time left after {seconds:g} s",
            )

    async def settle(self, seconds: float) -> None:
        """Wait until everything queued so far is written, for ``seconds`` at most (and
        not at all while writes fail): /history then shows the quote just made."""
        if self._last_error is not None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._idle.wait()

    def pending(self) -> list[JournalEntry]:
        """The entries not written yet, oldest first."""
        return [*self._in_flight, *self._queue]

    def stats(self) -> JournalStats:
        return JournalStats(
            backend=self.backend,
            written=self._written,
            failures=self._failures,
            dropped=self._dropped,
            waiting=len(self._queue) + len(self._in_flight),
            last_error=self._last_error,
        )

    # -- the background task --------------------------------------------------------------

    async def _run(self) -> None:
        pause = self.backoff[0]
        while True:
            if not self._queue:
                self._idle.set()
                if self._closing.is_set():
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            take = min(self.batch_size, len(self._queue))
            self._in_flight = [self._queue.popleft() for _ in range(take)]
            try:
                await self.sink.insert(self._in_flight)
            except JournalUnavailableError as exc:
                if self._closing.is_set():  # shutting down: try again until close's deadline
                    self._failed(exc.cause, CLOSING_RETRY_SECONDS)
                    await asyncio.sleep(CLOSING_RETRY_SECONDS)
                    continue
                self._failed(exc.cause, pause)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._closing.wait()  # shutdown: one last try at once
                pause = min(pause * 2, self.backoff[1])
                continue
            except Exception:  # a bug (an entry the database cannot take): not the database
                log.exception(
                    "journal: %d quote(s) could not be written and are dropped (a bug)",
                    len(self._in_flight),
                )
                self._failures += 1
                self._dropped += len(self._in_flight)
                self._in_flight = []
                continue
            self._written += len(self._in_flight)
            self._in_flight = []
            if self._last_error is not None:
                log.info(
                    "journal: writing again (%d written since start, %d waiting)",
                    self._written,
                    len(self._queue),
                )
                self._last_error = None
            pause = self.backoff[0]

    def _failed(self, cause: str, pause: float) -> None:
        """Put the batch back in front, count and log the failure."""
        self._queue.extendleft(reversed(self._in_flight))
        batch = len(self._in_flight)
        self._in_flight = []
        self._failures += 1
        self._last_error = cause
        log.warning(
            "journal: writing %d quote(s) failed (%s); %d waiting, next try in %g s",
            batch,
            cause,
            len(self._queue),
            pause,
        )
