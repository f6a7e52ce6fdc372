"""The journal's database: inserts and the queries the chat uses, on the drivers themselves
(aiosqlite for SQLite, asyncpg for PostgreSQL).

Why not through SQLAlchemy, as the schema is: importing SQLAlchemy (core, ORM and its
asyncio layer) is 17 MB of a bot whose whole budget at 200 busy admins is 110 MB, and the
journal runs seven short statements, written out once below (``?`` placeholders; asyncpg's
``$1, $2 …`` are numbered from them). The schema stays SQLAlchemy's and Alembic's: a
migration (:mod:`engine.journal.migrate`) imports both, and only when one is due. Values are
stored as SQLAlchemy's types stored them, so a journal written before reads back the same
(``tests/engine/journal/test_journal_store.py`` checks rows both ways):

=============  ===================================  ===========================
column         SQLite                               PostgreSQL
=============  ===================================  ===========================
Decimals       the Decimal's text (exact)           ``NUMERIC`` without a scale
created_at     ``YYYY-MM-DD HH:MM:SS.ffffff``, UTC  ``timestamptz``
sources        JSON text                            ``json``
stale, held    0 / 1                                ``boolean``
=============  ===================================  ===========================

Every call is bounded in time and translates what the driver raises into
:class:`~engine.journal.errors.JournalUnavailableError` (with a few words on why), here and
only here. Inserts are idempotent: ``ON CONFLICT (entry_id) DO NOTHING`` (both PostgreSQL
and SQLite have it), so a batch retried after a lost answer adds no duplicate.

SQLite runs in WAL mode with a 2 s busy timeout on two connections, one that writes and
one that reads, so the chat's reads do not wait for the writer. A connection whose call
failed or was cut off by its deadline is closed and opened again on the next call.
PostgreSQL: an asyncpg pool of up to 8 connections, opened on first use; a connection the
server closed is replaced when it is next taken, so a server restart costs a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from engine.journal.entry import JournalEntry, Mode
from engine.journal.errors import JournalUnavailableError, failure_cause
from engine.journal.migrate import VERSION_TABLE, migrate, shipped_head
from engine.journal.url import DatabaseTarget

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 5.0
WRITE_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
SQLITE_BUSY_SECONDS = 2.0
POOL_SIZE = 8
# What a database call may raise when the database, not our code, is the problem; with
# PostgreSQL asyncpg's errors too (:func:`database_errors`). asyncpg is imported only for
# PostgreSQL: a SQLite journal (the default) does not need it.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # TimeoutError and connection errors among them
    sqlite3.Error,
)

TABLE = "journal_quotes"
COLUMNS = tuple(field.name for field in fields(JournalEntry))
DECIMALS = frozenset(("amount_given", "amount_received", "base_rate", "final_rate", "margin"))
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
INSERT = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (entry_id) DO NOTHING"
)
RECENT = f"{_SELECT} ORDER BY created_at DESC, id DESC LIMIT ?"
RECENT_OF = f"{_SELECT} WHERE admin_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
FIND = f"{_SELECT} WHERE entry_id = ?"
BETWEEN = f"{_SELECT} WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id"
DELETE_BEFORE = f"DELETE FROM {TABLE} WHERE created_at < ?"
COUNT = f"SELECT count(*) AS n FROM {TABLE}"
Row = Mapping[str, Any]


def database_errors(target: DatabaseTarget) -> tuple[type[BaseException], ...]:
    """:data:`DATABASE_ERRORS`, and asyncpg's own when ``target`` is PostgreSQL."""
    if target.is_sqlite:
        return DATABASE_ERRORS
    import asyncpg

    return (*DATABASE_ERRORS, asyncpg.PostgresError, asyncpg.InterfaceError)


def exact(value: Decimal) -> Decimal:
    """``value``, checked to be a finite Decimal (the journal stores nothing else)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"the journal stores finite Decimals only, not {value!r}")
    return value


def as_written(number: Decimal) -> Decimal:
    """A NUMERIC as it was written: asyncpg reads 100000000 as 1E+8, and PostgreSQL's
    scale is never negative, so such a number had no decimals."""
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        with localcontext() as context:
            context.prec = max(context.prec, len(number.as_tuple().digits) + exponent)
            return number.quantize(Decimal(1))
    return number


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive one is refused."""
    if value.tzinfo is None:
        raise ValueError("the journal stores aware datetimes only")
    return value.astimezone(UTC)


def sqlite_time(value: datetime) -> str:
    """A time as SQLAlchemy's SQLite ``DATETIME`` writes it: naive UTC, microseconds."""
    return utc(value).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def row_values(entry: JournalEntry, *, sqlite: bool) -> tuple[Any, ...]:
    """The row of ``entry``, in :data:`COLUMNS` order, as the driver takes it."""
    values = []
    for name in COLUMNS:
        value = getattr(entry, name)
        if name in DECIMALS:
            value = str(exact(value)) if sqlite else exact(value)
        elif name == "created_at":
            value = sqlite_time(value) if sqlite else utc(value)
        elif name == "sources":
            value = json.dumps(list(value))
        values.append(value)
    return tuple(values)


def row_entry(row: Row) -> JournalEntry:
    """The entry a row holds (either driver's row)."""
    values = {name: row[name] for name in COLUMNS}
    for name in DECIMALS:
        values[name] = as_written(Decimal(str(values[name])))
    created = values["created_at"]
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    values["created_at"] = created.replace(tzinfo=UTC) if created.tzinfo is None else utc(created)
    sources = values["sources"]
    values["sources"] = tuple(json.loads(sources) if isinstance(sources, str) else sources)
    values["stale"], values["held"] = bool(values["stale"]), bool(values["held"])
    mode: Mode = "receive" if values["mode"] == "receive" else "give"
    values["mode"] = mode
    return JournalEntry(**values)


@functools.cache
def numbered(sql: str) -> str:
    """``sql`` with asyncpg's ``$1, $2 …`` for its ``?`` placeholders."""
    counter = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


class SqliteDatabase:
    """A SQLite file through aiosqlite: a writing and a reading connection, each used by
    one call at a time and opened when first needed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._open: dict[bool, aiosqlite.Connection] = {}  # writes? → its connection
        self._locks = {True: asyncio.Lock(), False: asyncio.Lock()}
        self._closing: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def _connection(self, writes: bool) -> AsyncIterator[aiosqlite.Connection]:
        async with self._locks[writes]:
            connection = self._open.get(writes)
            if connection is None:
                connection = await aiosqlite.connect(
                    self.path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None
                )
                connection.row_factory = sqlite3.Row
                try:
                    await connection.executescript(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    )
                except BaseException:
                    self._discard(connection)
                    raise
                self._open[writes] = connection
            try:
                yield connection
            except BaseException:  # failed or cut off: its state is unknown, start afresh
                del self._open[writes]
                self._discard(connection)
                raise

    def _discard(self, connection: aiosqlite.Connection) -> None:
        """Close ``connection`` in the background (its thread may still be busy)."""
        task = asyncio.ensure_future(connection.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._connection(writes=False) as connection:
            return list(await connection.execute_fetchall(sql, args))  # type: ignore[arg-type]

    async def execute(self, sql: str, *args: Any) -> int:
        async with (
            self._connection(writes=True) as connection,
            connection.execute(sql, args) as cursor,
        ):
            return cursor.rowcount

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._connection(writes=True) as connection:
            await connection.execute("BEGIN IMMEDIATE")
            await connection.executemany(sql, rows)
            await connection.commit()

    async def has_table(self, name: str) -> bool:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(await self.fetch(sql, name))

    async def close(self) -> None:
        for writes in list(self._open):
            self._discard(self._open.pop(writes))
        await asyncio.gather(*self._closing, return_exceptions=True)


class PostgresDatabase:
    """A PostgreSQL database through an asyncpg pool, created on first use."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._creating = asyncio.Lock()

    async def _acquire(self) -> asyncpg.Pool:
        async with self._creating:
            if self._pool is None:
                import asyncpg

                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=0,
                    max_size=POOL_SIZE,
                    timeout=CONNECT_TIMEOUT_SECONDS,
                    command_timeout=WRITE_TIMEOUT_SECONDS,
                    server_settings={"application_name": "crypto-helper"},
                )
            return self._pool

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        pool = await self._acquire()
        return list(await pool.fetch(numbered(sql), *args))

    async def execute(self, sql: str, *args: Any) -> int:
        pool = await self._acquire()
        status = await pool.execute(numbered(sql), *args)  # "DELETE 3"
        return int(status.rsplit(" ", 1)[-1])

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        pool = await self._acquire()
        async with pool.acquire() as connection, connection.transaction():
            await connection.executemany(numbered(sql), rows)

    async def has_table(self, name: str) -> bool:
        [row] = await self.fetch("SELECT to_regclass(?) IS NOT NULL AS found", name)
        return bool(row["found"])

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


class JournalStore:
    """The journal's table on one database.

    Args:
        target: which database.
    """

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target
        self.database: SqliteDatabase | PostgresDatabase = (
            SqliteDatabase(target.location)
            if target.is_sqlite
            else PostgresDatabase(target.location)
        )
        self._errors = database_errors(target)

    @contextlib.asynccontextmanager
    async def _guard(
        self, seconds: float, errors: tuple[type[BaseException], ...] = ()
    ) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(seconds):
                yield
        except (*self._errors, *errors) as exc:
            raise JournalUnavailableError(failure_cause(exc)) from exc

    async def upgrade(
        self, seconds: float = 2 * CONNECT_TIMEOUT_SECONDS
    ) -> tuple[str | None, str]:
        """Create the SQLite file's folder, apply the migrations; returns the revisions
        before and after.

        Raises:
            JournalUnavailableError: the database did not answer or refused.
        """
        async with self._guard(seconds):
            if self.target.is_sqlite:
                Path(self.target.location).parent.mkdir(parents=True, exist_ok=True)
            stored = await self._revision()
        if stored is not None and stored == shipped_head():
            return stored, stored  # the usual start: no SQLAlchemy, no Alembic
        from sqlalchemy.exc import SQLAlchemyError

        async with self._guard(seconds, (SQLAlchemyError,)):
            return await migrate(self.target, CONNECT_TIMEOUT_SECONDS)

    async def _revision(self) -> str | None:
        """The revision recorded in the database, read without Alembic (None: never
        migrated)."""
        if not await self.database.has_table(VERSION_TABLE):
            return None
        versions = await self.database.fetch(f"SELECT version_num FROM {VERSION_TABLE}")
        return str(versions[0]["version_num"]) if len(versions) == 1 else None

    async def insert(self, entries: Sequence[JournalEntry]) -> None:
        """Write ``entries`` in one transaction; an entry already there is left as it is."""
        if not entries:
            return
        sqlite = self.target.is_sqlite
        rows = [row_values(entry, sqlite=sqlite) for entry in entries]
        async with self._guard(WRITE_TIMEOUT_SECONDS):
            await self.database.execute_many(INSERT, rows)

    async def _select(self, sql: str, *args: Any) -> list[JournalEntry]:
        async with self._guard(READ_TIMEOUT_SECONDS):
            rows = await self.database.fetch(sql, *args)
        return [row_entry(row) for row in rows]

    def _time(self, value: datetime) -> Any:
        return sqlite_time(value) if self.target.is_sqlite else utc(value)

    async def recent(self, limit: int, admin_id: int | None = None) -> list[JournalEntry]:
        """The newest ``limit`` quotes (of ``admin_id`` only, when given), newest first."""
        if admin_id is None:
            return await self._select(RECENT, limit)
        return await self._select(RECENT_OF, admin_id, limit)

    async def find(self, entry_id: str) -> JournalEntry | None:
        """The quote with ``entry_id``, or None."""
        found = await self._select(FIND, entry_id)
        return found[0] if found else None

    async def between(self, start: datetime, end: datetime) -> list[JournalEntry]:
        """Quotes made at ``start`` or later and before ``end``, oldest first."""
        return await self._select(BETWEEN, self._time(start), self._time(end))

    async def delete_before(self, cutoff: datetime) -> int:
        """Remove quotes made before ``cutoff``; returns how many."""
        async with self._guard(WRITE_TIMEOUT_SECONDS):
            return await self.database.execute(DELETE_BEFORE, self._time(cutoff))

    async def count(self) -> int:
        """How many quotes the journal holds (tests, the bench)."""
        async with self._guard(READ_TIMEOUT_SECONDS):
            [row] = await self.database.fetch(COUNT)
        return int(row["n"])

    async def close(self) -> None:
        """Close every connection."""
        await self.database.close()
