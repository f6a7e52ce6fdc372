"""The SQLite journal going away under a running bot (another process holds its write
lock, as a backup tool might): quotes are still shown at once, /health/ready says
``journal: degraded`` with what waits, and the rows are written once the lock goes.
Quotes queued when the bot is stopped are written before it exits; quotes older than
journal.retention_days are removed when it starts."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, Person


def count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM journal_quotes").fetchone()[0])


async def journal_health(port: str) -> dict:  # type: ignore[type-arg]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/health/ready") as response,
    ):
        return (await response.json())["journal"]  # type: ignore[no-any-return]


async def test_a_locked_journal_then_released(
    own_tg: FakeTelegram, own_launcher: BotLauncher
) -> None:
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


def old_row(path: Path, entry_id: str, created_at: datetime) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO journal_quotes (entry_id, quote_no, created_at, admin_id, "
            "admin_username, chat_id, give, get, mode, amount_given, amount_received, asset, "
            "price, base_rate, final_rate, margin, sources, rate_age_seconds, stale, held, "
            "locale, bot_version) VALUES (?, 'OLD000', ?, 1, NULL, 1, 'RUB', 'USDT', 'give', "
            "'1000.00', '11.49', 'USDT', 'RUB', '85.30', '87.01', '2', '[\"rapira\"]', 3, 0, 0, "
            "'ru', 'old')",
            (entry_id, created_at.strftime("%Y-%m-%d %H:%M:%S.%f")),
        )


async def test_retention_removes_quotes_older_than_a_year_at_start(
    own_tg: FakeTelegram, own_launcher: BotLauncher
) -> None:
    for process in own_launcher.processes:
        process.stop()
    path = own_launcher.config.parent / "data" / "journal.sqlite3"
    now = datetime.now(UTC)
    old_row(path, "a" * 32, now - timedelta(days=366))
    old_row(path, "b" * 32, now - timedelta(days=364))
    with sqlite3.connect(path) as db:
        before = int(db.execute("SELECT count(*) FROM journal_quotes").fetchone()[0])
    bot = own_launcher.start()

    def ids() -> set[str]:
        with sqlite3.connect(path) as db:
            return {r[0] for r in db.execute("SELECT entry_id FROM journal_quotes")}

    await own_tg.wait_for(lambda: "a" * 32 not in ids(), 10, "the old quote removed")
    assert "b" * 32 in ids() and len(ids()) == before - 1
    assert "journal: 1 quote(s) older than 365 days removed" in bot.log()
