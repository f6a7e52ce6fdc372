"""The journal's store on a real SQLite file and a real PostgreSQL database: migrations
from empty, exact round trips, idempotent writes, the queries the chat uses."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from journal_helpers import T0, entry
from pgscratch import ScratchDatabase
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from engine.journal.errors import JournalConfigError, JournalUnavailableError
from engine.journal.migrate import head_revision
from engine.journal.store import COLUMNS, JournalStore, row_values, sqlite_time
from engine.journal.url import DatabaseTarget, database_target
from engine.logs import secrets_in_env

ROOT = Path(__file__).resolve().parents[3]


async def test_migrations_from_empty_create_the_table(target: DatabaseTarget) -> None:
    store = JournalStore(target)
    try:
        assert await store.upgrade() == (None, head_revision())
        assert await store.upgrade() == (head_revision(), head_revision())  # nothing to do
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{target.location}"
            if target.is_sqlite
            else target.location.replace("postgresql://", "postgresql+asyncpg://", 1)
        )
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
            columns = await connection.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("journal_quotes")}
            )
        await engine.dispose()
        assert {"journal_quotes", "alembic_version"} <= set(names)
        assert {
            "quote_no",
            "created_at",
            "admin_id",
            "admin_username",
            "chat_id",
            "give",
            "get",
            "mode",
            "amount_given",
            "amount_received",
            "base_rate",
            "final_rate",
            "margin",
            "sources",
            "rate_age_seconds",
            "stale",
            "locale",
            "bot_version",
        } <= columns
        assert await store.count() == 0
    finally:
        await store.close()


@pytest.mark.parametrize(
    "value",
    [
        "1E-9",
        "0.000000001",
        "123456789012.12345678",
        "85.30",
        "0.0056540",
        "100000000",
        "1.50",
    ],
)
async def test_decimals_round_trip_exactly(store: JournalStore, value: str) -> None:
    number = Decimal(value)
    written = entry(
        amount_given=number,
        amount_received=number,
        base_rate=number,
        final_rate=number,
        margin=number,
    )
    await store.insert([written])
    [read] = await store.recent(1)
    for field in ("amount_given", "amount_received", "base_rate", "final_rate", "margin"):
        got = getattr(read, field)
        assert isinstance(got, Decimal)
        assert got == number and got.as_tuple() == number.as_tuple(), (field, got)


async def test_every_field_round_trips(store: JournalStore) -> None:
    written = entry(
        quote_no="K7M2QX",
        admin_username=None,
        chat_id=-100123456789,
        mode="receive",
        give="USDT",
        get="THB",
        asset="USDT",
        price="THB",
        amount_given=Decimal("1000.00"),
        amount_received=Decimal("31769.00"),
        base_rate=Decimal("32.410"),
        final_rate=Decimal("31.769"),
        margin=Decimal("1.5"),
        sources=("rapira", "apilayer"),
        rate_age_seconds=912,
        stale=True,
        held=True,
        locale="en",
        bot_version="1.2.3",
        admin_id=9_007_199_254_740_993,  # beyond 2**53: no float anywhere
    )
    await store.insert([written])
    assert await store.find(written.entry_id) == written
    assert await store.recent(5) == [written]
    read = await store.find(written.entry_id)
    assert read is not None and read.created_at == T0 and read.created_at.tzinfo is not None


async def test_a_retried_write_adds_no_duplicate(store: JournalStore) -> None:
    first, second = entry(1), entry(2)
    await store.insert([first])
    await store.insert([first, second])  # the first batch's answer was lost: retried
    assert await store.count() == 2


async def test_the_same_quote_number_twice_is_two_quotes(store: JournalStore) -> None:
    # A six-character number repeats now and then over a year: both quotes are kept.
    await store.insert([entry(1, quote_no="K7M2QX"), entry(2, quote_no="K7M2QX")])
    assert await store.count() == 2


async def test_recent_is_newest_first_per_admin_or_everyone(store: JournalStore) -> None:
    mine = [entry(i) for i in range(12)]
    theirs = [entry(100 + i, admin_id=2002, admin_username=None) for i in range(3)]
    await store.insert(mine + theirs)
    assert [e.quote_no for e in await store.recent(10, 1001)] == [
        f"Q{i:05d}" for i in range(11, 1, -1)
    ]
    everyone = await store.recent(4)
    assert [e.quote_no for e in everyone] == ["Q00102", "Q00101", "Q00100", "Q00011"]


async def test_between_is_the_half_open_interval(store: JournalStore) -> None:
    await store.insert([entry(i) for i in range(10)])
    found = await store.between(T0 + timedelta(seconds=2), T0 + timedelta(seconds=5))
    assert [e.quote_no for e in found] == ["Q00002", "Q00003", "Q00004"]


async def test_delete_before_removes_only_older_quotes(store: JournalStore) -> None:
    await store.insert([entry(i) for i in range(5)])
    assert await store.delete_before(T0 + timedelta(seconds=3)) == 3
    assert [e.quote_no for e in await store.recent(10)] == ["Q00004", "Q00003"]


async def test_a_day_of_a_thousand_quotes(store: JournalStore) -> None:
    quotes = [
        replace(
            entry(i),
            amount_given=Decimal(1000 + i) / 100,
            created_at=T0 + timedelta(seconds=i * 30),
        )
        for i in range(1000)
    ]
    for start in range(0, 1000, 250):
        await store.insert(quotes[start : start + 250])
    day = await store.between(T0, T0 + timedelta(days=1))
    assert day == quotes  # every one, in order, exact


@pytest.mark.slow  # runs crypto-helper db upgrade
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_db_upgrade_command(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR")}
    if backend == "postgresql":
        database: ScratchDatabase = request.getfixturevalue("pg_database")
        env["DATABASE_URL"] = database.url.replace("postgresql+asyncpg://", "postgresql://")
        where = f"127.0.0.1:{database.port}/{database.name}"
    else:
        env["DATA_DIR"] = str(tmp_path / "data")
        where = str(tmp_path / "data" / "journal.sqlite3")

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "engine.cli", "db", "upgrade"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    first = run()
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == (
        f"journal database {backend} at {where}: migrated from an empty database to "
        f"revision {head_revision()}\n"
    )
    again = run()
    assert again.stdout == (
        f"journal database {backend} at {where}: already at revision {head_revision()}, "
        "the newest\n"
    )


@pytest.mark.slow  # runs crypto-helper db upgrade
def test_db_upgrade_says_why_it_cannot(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://desk:s3cret-pw@127.0.0.1:9/journal"}
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "journal database unusable at 127.0.0.1:9/journal (connection refused): start it or "
        "fix DATABASE_URL\n"
    )
    assert "s3cret" not in done.stdout + done.stderr


def test_database_url_forms(tmp_path: Path) -> None:
    default = database_target(None, tmp_path)
    assert (default.backend, default.location) == (
        "sqlite",
        str((tmp_path / "journal.sqlite3").absolute()),
    )
    assert default.where() == default.location and default.password is None
    for url in (
        "postgres://u:s3cret@db:5432/j",
        "postgresql://u:s3cret@db:5432/j",
        "postgresql+asyncpg://u:s3cret@db:5432/j",
    ):
        target = database_target(url, tmp_path)
        assert (target.backend, target.location) == (
            "postgresql",
            "postgresql://u:s3cret@db:5432/j",
        )
        assert target.password == "s3cret"
        assert target.where() == "db:5432/j"
    assert database_target("postgresql://u:p%40ss@db/j", tmp_path).password == "p@ss"
    assert database_target("postgresql://u:p@db/j", tmp_path).where() == "db:5432/j"
    sockets = database_target("postgresql:///j?host=/run/postgresql", tmp_path)
    assert sockets.where() == "/run/postgresql:5432/j"
    # asyncpg reads libpq's sslmode; SQLAlchemy's ssl= means the same
    for query in ("sslmode=require", "ssl=require"):
        railway = database_target(f"postgresql://u:p@db:5432/j?{query}", tmp_path)
        assert railway.location == "postgresql://u:p@db:5432/j?sslmode=require"
    assert database_target("sqlite:///x/j.db", tmp_path).location == "x/j.db"
    assert database_target("sqlite+aiosqlite:////srv/j.db", tmp_path).location == "/srv/j.db"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://u:p@db/j", "not a database URL the journal can use"),
        ("sqlite://", "no SQLite file named"),
        ("sqlite:///:memory:", "an in-memory SQLite journal would be lost at every restart"),
        ("postgresql://u:p@db:99999/j", "the port is not a number from 1 to 65535"),
        ("postgresql://u:p@/j", "no host"),
        ("postgresql://u:p@db:5432", "no database name after the host"),
        ("postgresql://u:p@[::1:5432/j", "not a URL (a '[' around the host is not closed?)"),
    ],
)
def test_a_database_url_the_journal_cannot_use_is_refused(
    url: str, problem: str, tmp_path: Path
) -> None:
    with pytest.raises(JournalConfigError) as raised:
        database_target(url, tmp_path)
    assert str(raised.value).startswith(f"DATABASE_URL: {problem}")
    assert "p@" not in str(raised.value)


def test_database_url_is_a_secret_for_the_logs() -> None:
    url = "postgresql://desk:s3cret-pw@db:5432/journal"
    assert secrets_in_env({"DATABASE_URL": url, "PATH": "/bin"}) == [url]


# A row as the journal wrote it through SQLAlchemy's types (up to 0.1.0), read from the
# file with sqlite3: the store still writes, and reads, exactly these forms.
LEGACY_SQLITE_ROW = {
    "entry_id": "85428036ac9a4183b64cd8a96aa41962",
    "quote_no": "Q00001",
    "created_at": "2026-12-01 09:30:16.123456",
    "admin_id": 1001,
    "admin_username": None,
    "chat_id": 1001,
    "give": "RUB",
    "get": "USDT",
    "mode": "give",
    "amount_given": "1E-9",
    "amount_received": "11.49",
    "asset": "USDT",
    "price": "RUB",
    "base_rate": "85.30",
    "final_rate": "87.01",
    "margin": "2",
    "sources": '["rapira", "apilayer"]',
    "rate_age_seconds": 3,
    "stale": 1,
    "held": 0,
    "locale": "ru",
    "bot_version": "0.1.0",
}
LEGACY_ENTRY = entry(
    1,
    entry_id=LEGACY_SQLITE_ROW["entry_id"],
    admin_username=None,
    amount_given=Decimal("1E-9"),
    sources=("rapira", "apilayer"),
    stale=True,
)


async def sqlite_store(tmp_path: Path) -> tuple[JournalStore, Path]:
    store = JournalStore(database_target(None, tmp_path))
    await store.upgrade()
    return store, tmp_path / "journal.sqlite3"


async def test_sqlite_rows_are_written_as_sqlalchemy_wrote_them(tmp_path: Path) -> None:
    store, path = await sqlite_store(tmp_path)
    try:
        await store.insert([LEGACY_ENTRY])
    finally:
        await store.close()
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        [row] = connection.execute("SELECT * FROM journal_quotes").fetchall()
    assert {key: row[key] for key in LEGACY_SQLITE_ROW} == LEGACY_SQLITE_ROW


async def test_sqlite_rows_written_before_read_back_the_same(tmp_path: Path) -> None:
    store, path = await sqlite_store(tmp_path)
    with sqlite3.connect(path) as connection:
        names = ", ".join(LEGACY_SQLITE_ROW)
        marks = ", ".join("?" * len(LEGACY_SQLITE_ROW))
        connection.execute(
            f"INSERT INTO journal_quotes ({names}) VALUES ({marks})",
            list(LEGACY_SQLITE_ROW.values()),
        )
    try:
        assert await store.find(LEGACY_ENTRY.entry_id) == LEGACY_ENTRY
        # times compare as the text SQLAlchemy wrote: the interval still finds the row
        found = await store.between(T0, T0 + timedelta(seconds=2))
        assert found == [LEGACY_ENTRY]
        assert (
            await store.between(T0 + timedelta(seconds=1, microseconds=1), T0 + timedelta(2)) == []
        )
    finally:
        await store.close()


async def test_a_cut_off_write_leaves_the_store_usable(tmp_path: Path) -> None:
    store, path = await sqlite_store(tmp_path)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(JournalUnavailableError, match="locked"):
            await store.insert([entry(1)])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    try:
        await store.insert([entry(2)])  # on a connection opened afresh
        assert [e.quote_no for e in await store.recent(5)] == ["Q00002"]
    finally:
        await store.close()


def test_times_are_written_as_sqlalchemy_wrote_them_whatever_the_year() -> None:
    # SQLite compares the text: every year in four digits, microseconds always there.
    assert sqlite_time(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02 03:04:05.000000"
    moscow = timezone(timedelta(hours=3))
    assert sqlite_time(datetime(2026, 12, 1, 12, 0, tzinfo=moscow)) == "2026-12-01 09:00:00.000000"


def test_non_finite_or_naive_values_are_refused_before_the_database() -> None:
    with pytest.raises(ValueError, match="finite Decimals only"):
        row_values(entry(amount_given=Decimal("NaN")), sqlite=True)
    with pytest.raises(ValueError, match="aware datetimes only"):
        row_values(entry(created_at=T0.replace(tzinfo=None)), sqlite=False)


def test_the_store_writes_every_column_the_schema_declares() -> None:
    from engine.journal.schema import QuoteRow

    declared = {column.key for column in QuoteRow.__table__.columns} - {"id"}
    assert declared == set(COLUMNS)


@pytest.mark.slow  # a PostgreSQL scratch database
async def test_a_url_with_libpq_parameters_migrates_and_serves(
    pg_database: ScratchDatabase, tmp_path: Path
) -> None:
    # The migration opens its connection as the store does: asyncpg reads the whole URL.
    url = f"{pg_database.url}?application_name=desk-journal&sslmode=disable"
    store = JournalStore(database_target(url, tmp_path))
    try:
        assert await store.upgrade() == (None, head_revision())
        await store.insert([entry(1)])
        assert [e.quote_no for e in await store.recent(1)] == ["Q00001"]
    finally:
        await store.close()


@pytest.mark.slow  # a PostgreSQL server
@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ("?sslmode=bogus", "a parameter in DATABASE_URL has a value asyncpg does not take"),
        ("?no_such_setting=1", "a parameter in DATABASE_URL is not a setting the server knows"),
        ("_missing", "the database does not exist"),
    ],
)
async def test_a_database_that_refuses_says_why_in_a_few_words(
    pg_database: ScratchDatabase, tmp_path: Path, change: str, cause: str
) -> None:
    store = JournalStore(database_target(pg_database.url + change, tmp_path))
    try:
        with pytest.raises(JournalUnavailableError) as raised:
            await store.upgrade()
        assert raised.value.cause == cause
    finally:
        await store.close()
