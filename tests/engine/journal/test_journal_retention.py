"""Retention: quotes older than journal.retention_days go, the others stay."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from journal_helpers import T0, entry

from engine.journal.errors import JournalUnavailableError
from engine.journal.retention import Retention
from engine.journal.store import JournalStore


async def test_old_quotes_are_removed(
    store: JournalStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="engine.journal")
    now = T0 + timedelta(days=365, hours=1)
    old = [entry(i, created_at=T0 - timedelta(days=i)) for i in range(3)]  # 365+ days old
    kept = entry(9, created_at=T0 + timedelta(days=2))
    await store.insert([*old, kept])
    retention = Retention(store, 365, now=lambda: now)
    assert await retention.run_once() == 3
    assert await store.recent(10) == [kept]
    assert await retention.run_once() == 0
    assert [r.getMessage() for r in caplog.records if r.name == "engine.journal.retention"] == [
        "journal: 3 quote(s) older than 365 days removed"
    ]


class DownStore:
    def __init__(self) -> None:
        self.calls = 0

    async def delete_before(self, cutoff: object) -> int:
        self.calls += 1
        raise JournalUnavailableError("connection refused")


async def test_a_failed_pass_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    store = DownStore()
    retention = Retention(store, 30, every_seconds=60, retry_seconds=0.01)
    retention.start()
    for _ in range(200):
        if store.calls >= 2:
            break
        await asyncio.sleep(0.01)
    await retention.stop()
    assert store.calls >= 2
    assert "journal: removing old quotes failed (connection refused); next try in 0.01 s" in [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING"
    ]


class BuggyStore:
    def __init__(self) -> None:
        self.calls = 0

    async def delete_before(self, cutoff: object) -> int:
        self.calls += 1
        raise TypeError("a bug")


async def test_a_bug_in_a_pass_is_an_error_and_the_next_pass_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = BuggyStore()
    retention = Retention(store, 30, every_seconds=60, retry_seconds=0.01)
    retention.start()
    for _ in range(200):
        if store.calls >= 2:
            break
        await asyncio.sleep(0.01)
    await retention.stop()  # does not raise
    assert store.calls >= 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and errors[0].getMessage() == "journal: removing old quotes failed (a bug)"
