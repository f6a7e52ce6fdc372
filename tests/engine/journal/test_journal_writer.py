"""The journal writer: never blocks a quote, bounds its memory, counts and logs failures,
retries with backoff, writes what waited once the database is back, flushes at shutdown."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from journal_helpers import entry
from pgscratch import ScratchDatabase, TcpProxy

from engine.journal.entry import JournalEntry
from engine.journal.errors import JournalUnavailableError
from engine.journal.store import JournalStore
from engine.journal.url import database_target
from engine.journal.writer import JournalWriter

pytestmark = pytest.mark.slow  # timed retries and outages, a second each

FAST = (0.02, 0.1)


class Sink:
    """A database that answers after ``delay`` and fails while ``down``."""

    def __init__(self, delay: float = 0.0) -> None:
        self.rows: dict[str, JournalEntry] = {}
        self.batches: list[int] = []
        self.delay = delay
        self.down: str | None = None
        self.calls = 0

    async def insert(self, entries: list[JournalEntry]) -> None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise JournalUnavailableError(self.down)
        self.batches.append(len(entries))
        self.rows.update({e.entry_id: e for e in entries})


async def wait_until(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def journal_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, bool]]:
    return [
        (r.levelname, r.getMessage(), r.exc_info is not None)
        for r in caplog.records
        if r.name.startswith("engine.journal")
    ]


async def test_record_returns_at_once_even_when_the_database_is_slow() -> None:
    sink = Sink(delay=0.5)
    writer = JournalWriter(sink, backoff=FAST)
    writer.start()
    started = time.perf_counter()
    for i in range(1000):
        writer.record(entry(i))
    assert time.perf_counter() - started < 0.05  # 1 000 records: no await, no I/O
    assert writer.stats().waiting == 1000
    await writer.close(seconds=5)
    assert len(sink.rows) == 1000
    assert max(sink.batches) <= 500 and sum(sink.batches) == 1000
    assert writer.stats().written == 1000 and writer.stats().waiting == 0


async def test_a_failed_write_is_logged_counted_retried_and_written_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="engine.journal")
    sink = Sink()
    sink.down = "connection refused"
    writer = JournalWriter(sink, backoff=FAST)
    writer.start()
    writer.record(entry(1))
    writer.record(entry(2))
    await wait_until(lambda: sink.calls >= 3)
    stats = writer.stats()
    assert stats.degraded and stats.last_error == "connection refused"
    assert stats.waiting == 2 and stats.failures >= 3 and stats.written == 0
    assert stats.to_json()["status"] == "degraded"
    sink.down = None
    await wait_until(lambda: len(sink.rows) == 2)
    await wait_until(lambda: not writer.stats().degraded)
    await writer.close()
    lines = journal_lines(caplog)
    assert lines[0] == (
        "WARNING",
        "journal: writing 2 quote(s) failed (connection refused); 2 waiting, next try in 0.02 s",
        False,  # one line, no traceback
    )
    assert lines[1][1].endswith("next try in 0.04 s")  # backoff doubles
    assert ("INFO", "journal: writing again (2 written since start, 0 waiting)", False) in lines
    assert writer.stats().to_json() == {
        "status": "ok",
        "backend": "sqlite",
        "waiting": 0,
        "written": 2,
        "failures": writer.stats().failures,
        "dropped": 0,
        "last_error": None,
    }


async def test_a_full_queue_drops_the_oldest_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Sink()
    sink.down = "connection refused"
    writer = JournalWriter(sink, max_queue=5, backoff=(10.0, 10.0))
    for i in range(8):
        writer.record(entry(i))
    assert writer.stats().dropped == 3
    assert [e.quote_no for e in writer.pending()] == [f"Q{i:05d}" for i in range(3, 8)]
    drops = [m for level, m, _ in journal_lines(caplog) if "queue full" in m]
    assert drops == [
        "journal: queue full (5 quotes waiting; the database is slow): 1 oldest dropped unwritten"
    ]  # once a minute at most, not once per quote
    sink.down = None
    writer.start()
    await writer.close()
    assert sorted(e.quote_no for e in sink.rows.values()) == [f"Q{i:05d}" for i in range(3, 8)]


async def test_shutdown_flushes_what_waits_and_says_what_it_could_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Sink()
    writer = JournalWriter(sink, backoff=FAST)
    writer.start()
    for i in range(3):
        writer.record(entry(i))
    await writer.close(seconds=2)
    assert len(sink.rows) == 3
    down = Sink()
    down.down = "connection refused"
    stuck = JournalWriter(down, backoff=(30.0, 30.0))
    stuck.start()
    stuck.record(entry(9))
    started = time.monotonic()
    await stuck.close(seconds=1)
    assert time.monotonic() - started < 2  # bounded, though the backoff is 30 s
    assert (
        "WARNING",
        "journal: 1 quote(s) not written at shutdown (connection refused)",
        False,
    ) in journal_lines(caplog)


async def test_settle_waits_for_what_was_queued_but_not_for_a_dead_database() -> None:
    sink = Sink(delay=0.1)
    writer = JournalWriter(sink, backoff=FAST)
    writer.start()
    writer.record(entry(1))
    await writer.settle(2.0)
    assert len(sink.rows) == 1
    sink.down = "connection refused"
    writer.record(entry(2))
    await wait_until(lambda: writer.stats().degraded)
    started = time.monotonic()
    await writer.settle(2.0)
    assert time.monotonic() - started < 0.05
    await writer.close(seconds=0.5)


async def test_sqlite_locked_by_another_process_then_released(tmp_path: Path) -> None:
    store = JournalStore(database_target(None, tmp_path))
    await store.upgrade()
    writer = JournalWriter(store, backoff=FAST)
    writer.start()
    blocker = sqlite3.connect(tmp_path / "journal.sqlite3", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # a backup tool, another process: no writes
    try:
        writer.record(entry(1))
        await wait_until(lambda: writer.stats().failures >= 1)
        assert writer.stats().last_error == "the database file is locked"
        assert writer.stats().waiting == 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await wait_until(lambda: writer.stats().written == 1)
    await writer.close()
    assert [e.quote_no for e in await store.recent(5)] == ["Q00001"]
    await store.close()


async def test_postgresql_away_then_back(pg_database: ScratchDatabase) -> None:
    proxy = TcpProxy(pg_database.port).start()
    store = JournalStore(database_target(pg_database.url_via(proxy.port), Path(".")))
    try:
        await store.upgrade()
        writer = JournalWriter(store, backend="postgresql", backoff=FAST)
        writer.start()
        writer.record(entry(1))
        await writer.settle(5)
        proxy.cut()  # the server went away: every connection closed, none accepted
        writer.record(entry(2))
        writer.record(entry(3))
        await wait_until(lambda: writer.stats().failures >= 2)
        assert writer.stats().last_error in ("connection refused", "connection lost")
        proxy.restore()
        await wait_until(lambda: writer.stats().written == 3, seconds=15)
        await writer.close()
        rows = pg_database.fetch("SELECT quote_no FROM journal_quotes ORDER BY quote_no")
        assert [r["quote_no"] for r in rows] == ["Q00001", "Q00002", "Q00003"]
    finally:
        await store.close()
        proxy.stop()


class BrokenSink(Sink):
    async def insert(self, entries: list[JournalEntry]) -> None:
        self.calls += 1
        if any(e.quote_no == "BAD" for e in entries):
            raise ValueError("the journal stores finite Decimals only, not Decimal('NaN')")
        await super().insert(entries)


async def test_a_batch_the_database_cannot_take_is_dropped_with_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = BrokenSink()
    writer = JournalWriter(sink, backoff=FAST)
    writer.start()
    writer.record(entry(1, quote_no="BAD"))
    await wait_until(lambda: writer.stats().dropped == 1)
    writer.record(entry(2))  # the writer goes on
    await writer.close()
    assert [e.quote_no for e in sink.rows.values()] == ["Q00002"]
    [error] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert error.getMessage() == "journal: 1 quote(s) could not be written and are dropped (a bug)"
    assert error.exc_info is not None  # a bug keeps its traceback


async def test_at_shutdown_a_failing_write_is_tried_again_until_the_deadline() -> None:
    sink = Sink()
    sink.down = "the database file is locked"
    writer = JournalWriter(sink, backoff=(30.0, 30.0))
    writer.start()
    writer.record(entry(1))
    await wait_until(lambda: sink.calls >= 1)

    async def back_soon() -> None:
        await asyncio.sleep(0.7)
        sink.down = None

    task = asyncio.create_task(back_soon())
    await writer.close(seconds=3)  # fails at once, then every 0.5 s: written when it is back
    await task
    assert len(sink.rows) == 1 and writer.stats().waiting == 0
