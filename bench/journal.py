"""The quote journal's cost: writes per quote on SQLite and PostgreSQL, and what it adds
to the quote step's p99 (target: at most 2 ms).

1. Write cost: :class:`~engine.journal.store.JournalStore` inserting quotes one per
   transaction ("single", what a quiet desk costs) and ``--batch`` per transaction
   ("batch", what the writer does under load), wall µs per quote. SQLite is a file in a
   temporary folder; PostgreSQL a scratch database made on the server at
   ``TEST_DATABASE_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``)
   and dropped afterwards (skipped, and said so, when none answers).
2. The quote step with the journal on and off: crypto-helper's dispatcher as
   ``bench.inprocess`` wires it (canned Bot API, no sockets), fed one-line quotes
   (``/q 1000 rub usdt 2``: ``compute_quote``, the result card, ``sendMessage``) in waves
   of ``--concurrency`` admins; each update's latency from feeding to done. "On" wires the
   real journal writer (SQLite, and PostgreSQL when there) exactly as ``build_runtime``
   does: the writer's batches run on the same event loop, between the quotes. Off and on
   alternate ``--repeats`` times; the median of the runs' p99 is compared.

Run: ``python -m bench.journal [--quotes 2000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import secrets
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bench.inprocess import FIRST_ADMIN, crypto_helper
from bench.stats import percentile
from engine.journal.entry import JournalEntry
from engine.journal.store import JournalStore
from engine.journal.url import DatabaseTarget, database_target
from engine.journal.writer import JournalWriter

ADMIN_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SAMPLE = JournalEntry(
    quote_no="K7M2QX",
    created_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
    admin_id=1001,
    admin_username="desk_anna",
    chat_id=1001,
    give="RUB",
    get="USDT",
    mode="give",
    amount_given=Decimal("1000.00"),
    amount_received=Decimal("11.49"),
    asset="USDT",
    price="RUB",
    base_rate=Decimal("85.30"),
    final_rate=Decimal("87.01"),
    margin=Decimal("2"),
    sources=("rapira",),
    rate_age_seconds=3,
    stale=False,
    held=False,
    locale="ru",
    bot_version="bench",
)


def entries(count: int) -> list[JournalEntry]:
    return [replace(SAMPLE, entry_id=secrets.token_hex(16)) for _ in range(count)]


class ScratchPostgres:
    """A database of the bench's own on the server at ``TEST_DATABASE_URL``."""

    def __init__(self) -> None:
        self.name = f"crypto_helper_bench_{secrets.token_hex(4)}"
        self.admin = ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def _run(self, sql: str) -> None:
        connection = await asyncpg.connect(self.admin, timeout=3)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def create(self) -> DatabaseTarget | None:
        try:
            await self._run(f'CREATE DATABASE "{self.name}"')
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"PostgreSQL: skipped, none answers at TEST_DATABASE_URL ({exc})")
            return None
        base = ADMIN_URL.rsplit("/", 1)[0]
        return database_target(f"{base}/{self.name}", Path("."))

    async def drop(self) -> None:
        await self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


async def write_cost(target: DatabaseTarget, quotes: int, batch: int) -> tuple[float, float]:
    """µs per quote: one per transaction, and ``batch`` per transaction."""
    store = JournalStore(target)
    await store.upgrade()
    try:
        await store.insert(entries(10))  # connections made, statements compiled
        single = entries(quotes)
        started = time.perf_counter()
        for entry in single:
            await store.insert([entry])
        one = (time.perf_counter() - started) / quotes * 1e6
        many = entries(quotes)
        started = time.perf_counter()
        for start in range(0, quotes, batch):
            await store.insert(many[start : start + batch])
        batched = (time.perf_counter() - started) / quotes * 1e6
    finally:
        await store.close()
    return one, batched


def quote_update(n: int) -> Update:
    user = FIRST_ADMIN + n
    text = f"/q {1000 + n % 500} rub usdt 2"
    return Update.model_validate(
        {
            "update_id": n + 1,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": user, "type": "private"},
                "from": {"id": user, "is_bot": False, "first_name": "A", "language_code": "ru"},
                "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": 2}],
            },
        }
    )


async def quote_latencies(
    dispatcher: Dispatcher, bot: Bot, first: int, count: int, concurrency: int
) -> list[float]:
    """Seconds each quote took, fed in waves of ``concurrency``."""
    latencies: list[float] = []

    async def one(update: Update) -> None:
        started = time.perf_counter()
        await dispatcher.feed_update(bot, update)
        latencies.append(time.perf_counter() - started)

    for wave in range(first, first + count, concurrency):
        updates = [quote_update(n) for n in range(wave, min(wave + concurrency, first + count))]
        await asyncio.gather(*(one(u) for u in updates))
        await asyncio.sleep(0)  # let the writer take its turn, as between real updates
    return latencies


async def quote_step(
    targets: dict[str, DatabaseTarget], quotes: int, repeats: int, concurrency: int
) -> dict[str, list[float]]:
    """p99 (seconds) of each run, journal off and on per backend, alternating."""
    admins = frozenset(range(FIRST_ADMIN, FIRST_ADMIN + 10_000))
    dispatcher, bot = crypto_helper(admins)
    p99: dict[str, list[float]] = {"off": [], **{name: [] for name in targets}}
    await quote_latencies(dispatcher, bot, 0, min(quotes, 500), concurrency)  # warm-up
    for _ in range(repeats):
        for mode in p99:
            gc.collect()
            store = writer = None
            if mode != "off":
                store = JournalStore(targets[mode])
                await store.upgrade()
                writer = JournalWriter(store, backend=targets[mode].backend)
                writer.start()
                dispatcher["journal"], dispatcher["journal_store"] = writer, store
            latencies = await quote_latencies(dispatcher, bot, 0, quotes, concurrency)
            if writer is not None and store is not None:
                await writer.close(seconds=30)
                assert writer.stats().written == quotes, writer.stats()
                await store.close()
                del dispatcher.workflow_data["journal"], dispatcher.workflow_data["journal_store"]
            p99[mode].append(percentile(latencies, 99))
    return p99


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quotes", type=int, default=2000, help="quotes per measurement")
    parser.add_argument("--batch", type=int, default=500, help="quotes per batch write")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20, help="admins quoting at once")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="crypto-helper-bench-journal-")
    targets = {"sqlite": database_target(None, Path(folder.name))}
    postgres = ScratchPostgres()
    pg_target = await postgres.create()
    if pg_target is not None:
        targets["postgresql"] = pg_target
    try:
        print("1. Journal write cost (wall µs per quote)")
        print(f"{'backend':12} {'single':>10} {'batch of ' + str(args.batch):>14}")
        for name, target in targets.items():
            bench_target = target
            if name == "sqlite":
                bench_target = database_target(None, Path(folder.name) / "write-cost")
            one, batched = await write_cost(bench_target, args.quotes, args.batch)
            print(f"{name:12} {one:10.0f} {batched:14.1f}")
        print()
        print(
            f"2. Quote step (/q, in-process, {args.concurrency} admins at once, "
            f"{args.quotes} quotes per run, {args.repeats} runs each)"
        )
        figures = await quote_step(targets, args.quotes, args.repeats, args.concurrency)
        off = statistics.median(figures["off"])
        print(f"journal {'off':10} p99 {off * 1000:6.2f} ms  (runs: {runs(figures['off'])})")
        worst = 0.0
        for name in targets:
            on = statistics.median(figures[name])
            worst = max(worst, on - off)
            print(
                f"journal {name:10} p99 {on * 1000:6.2f} ms  (runs: {runs(figures[name])}), "
                f"{(on - off) * 1000:+.2f} ms"
            )
        verdict = "PASS" if worst <= 0.002 else "FAIL"
        print(f"Target: the journal moves the quote step's p99 by at most 2 ms: {verdict}")
    finally:
        if pg_target is not None:
            await postgres.drop()
        folder.cleanup()


def runs(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.2f}" for v in values)


if __name__ == "__main__":
    asyncio.run(main())
