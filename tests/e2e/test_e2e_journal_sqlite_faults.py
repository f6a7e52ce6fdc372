"""The SQLite journal going away under a running bot (another process holds its write
lock, as a backup tool might): quotes are still shown at once, /health/ready says
``journal: degraded`` with what waits, and the rows are written once the lock goes.
Quotes queued when the bot is stopped are written before it exits."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import aiohttp
from fake_telegram import FakeTelegram
from harness import ADMINS, BotLauncher, Person


def count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM journal_quotes").fetchone()[0])


async def journal_health(port: str) -> dict:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as session, session.get(
        f"http://127.0.0.1:{port}/health/ready"
    ) as response:
        return (await response.json())["journal"]  # type: ignore[no-any-return]


async def test_a_locked_journal_then_released(own_tg: FakeTelegram, own_launcher: BotLauncher) -> None:
    bot = own_launcher.start()
    path = own_launcher.config.parent / "data" / "journal.sqlite3"
    port = bot.env["PORT"]
    admin = Person(own_tg, ADMINS[0])
    admin.send("/q 1000 rub usdt 2")
    await admin.sees("Клиент получает")
    await own_tg.wait_for(lambda: count(path) == 1, 10, "the first row")
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for amount in ("2000", "3000"):
            started = time.monotonic()
            admin.send(f"/q {amount} rub usdt 2")
            await admin.sees("Клиент получает", timeout=5)
            assert time.monotonic() - started < 2
        deadline = time.monotonic() + 15
        while (health := await journal_health(port))["status"] != "degraded":
            assert time.monotonic() < deadline, health
            await asyncio.sleep(0.2)
        assert health["waiting"] == 2 and health["last_error"] == "the database file is locked"
        assert health["backend"] == "sqlite"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await own_tg.wait_for(lambda: count(path) == 3, 40, "the rows that waited")
    assert "journal: writing 1 quote(s) failed (the database file is locked)" in bot.log() or (
        "journal: writing 2 quote(s) failed (the database file is locked)" in bot.log()
    )
    assert admin.refusals() == []


async def test_quotes_waiting_at_sigterm_are_written(
    own_tg: FakeTelegram, own_launcher: BotLauncher
) -> None:
    """The quote cannot be written while the lock is held; SIGTERM comes; the lock goes
    within the bot's shutdown flush: the row is there when the bot has exited, 0."""
    for process in own_launcher.processes:
        process.stop()
    path = own_launcher.config.parent / "data" / "journal.sqlite3"
    bot = own_launcher.start()
    before = count(path)
    admin = Person(own_tg, ADMINS[1])
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        admin.send("/q 1234 rub usdt 2")
        await admin.sees("Клиент получает")
        deadline = time.monotonic() + 15
        while (await journal_health(bot.env["PORT"]))["status"] != "degraded":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert bot.stop() == 0
    assert count(path) == before + 1
    assert "not written at shutdown" not in bot.log()
