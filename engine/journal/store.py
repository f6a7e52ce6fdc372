"""The journal's database: SQLAlchemy 2 async engine, inserts and the queries the chat uses.

Every call is bounded in time and translates what the driver raises into
:class:`~engine.journal.errors.JournalUnavailableError` (with a few words on why), here and
only here. Inserts are idempotent: ``ON CONFLICT (entry_id) DO NOTHING`` (both PostgreSQL
and SQLite have it), so a batch retried after a lost answer adds no duplicate.

SQLite runs in WAL mode (the chat's reads do not wait for the writer) with a 2 s busy
timeout; PostgreSQL connections are checked before use (``pool_pre_ping``), so a server
restart costs one reconnect, not a failed write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import RowMapping, delete, event, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from engine.journal.entry import JournalEntry, Mode
from engine.journal.errors import JournalUnavailableError, failure_cause
from engine.journal.migrate import upgrade_connection
from engine.journal.schema import QuoteRow
from engine.journal.url import DatabaseTarget

log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 5.0
WRITE_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
SQLITE_BUSY_SECONDS = 2.0
# What a database call may raise when the database, not our code, is the problem; with
# PostgreSQL asyncpg's errors too (:func:`database_errors`). asyncpg and SQLAlchemy's
# PostgreSQL dialect are imported only for PostgreSQL: 25 ms and 5 MB a SQLite journal (the
# default) does not need.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    SQLAlchemyError,
    OSError,  # TimeoutError and connection errors among them
    sqlite3.Error,
)


def database_errors(target: DatabaseTarget) -> tuple[type[BaseException], ...]:
    """:data:`DATABASE_ERRORS`, and asyncpg's own when ``target`` is PostgreSQL."""
    if target.is_sqlite:
        return DATABASE_ERRORS
    import asyncpg

    return (*DATABASE_ERRORS, asyncpg.PostgresError, asyncpg.InterfaceError)


_COLUMNS = [column.key for column in QuoteRow.__table__.columns if column.key != "id"]


def create_engine(target: DatabaseTarget) -> AsyncEngine:
    """The async engine for ``target`` (connecting is left to the first call)."""
    if target.is_sqlite:
        engine = create_async_engine(
            target.url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, pool_pre_ping=True
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        target.url,
        pool_pre_ping=True,
        pool_size=4,
        max_overflow=4,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": WRITE_TIMEOUT_SECONDS,
            "server_settings": {"application_name": "crypto-helper"},
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def entry_values(entry: JournalEntry) -> dict[str, Any]:
    """The row of ``entry``."""
    values = {name: getattr(entry, name) for name in _COLUMNS}
    values["sources"] = list(entry.sources)
    return values


def row_entry(row: RowMapping) -> JournalEntry:
    """The entry a row holds."""
    values = {name: row[name] for name in _COLUMNS}
    values["sources"] = tuple(row["sources"])
    mode: Mode = "receive" if row["mode"] == "receive" else "give"
    values["mode"] = mode
    return JournalEntry(**values)


class JournalStore:
    """The journal's table on one database.

    Args:
        target: which database.
        engine: an engine of one's own (tests); by default :func:`create_engine`.
    """

    def __init__(self, target: DatabaseTarget, engine: AsyncEngine | None = None) -> None:
        self.target = target
        self.engine = engine if engine is not None else create_engine(target)
        self._errors = database_errors(target)

    @contextlib.asynccontextmanager
    async def _guard(self, seconds: float) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(seconds):
                yield
        except self._errors as exc:
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
            database = self.target.url.database
            if self.target.is_sqlite and database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            async with self.engine.begin() as connection:
                return await connection.run_sync(upgrade_connection)

    async def insert(self, entries: Sequence[JournalEntry]) -> None:
        """Write ``entries`` in one transaction; an entry already there is left as it is."""
        if not entries:
            return
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement: Any = pg_insert(QuoteRow)
        else:
            statement = sqlite_insert(QuoteRow)
        statement = statement.on_conflict_do_nothing(index_elements=["entry_id"])
        async with self._guard(WRITE_TIMEOUT_SECONDS), self.engine.begin() as connection:
            await connection.execute(statement, [entry_values(e) for e in entries])

    async def _select(self, statement: Any) -> list[JournalEntry]:
        async with self._guard(READ_TIMEOUT_SECONDS), self.engine.connect() as connection:
            result = await connection.execute(statement)
            rows = result.mappings().all()
        return [row_entry(row) for row in rows]

    async def recent(self, limit: int, admin_id: int | None = None) -> list[JournalEntry]:
        """The newest ``limit`` quotes (of ``admin_id`` only, when given), newest first."""
        table = QuoteRow.__table__
        statement = select(table).order_by(table.c.created_at.desc(), table.c.id.desc())
        if admin_id is not None:
            statement = statement.where(table.c.admin_id == admin_id)
        return await self._select(statement.limit(limit))

    async def find(self, entry_id: str) -> JournalEntry | None:
        """The quote with ``entry_id``, or None."""
        table = QuoteRow.__table__
        found = await self._select(select(table).where(table.c.entry_id == entry_id))
        return found[0] if found else None

    async def between(self, start: datetime, end: datetime) -> list[JournalEntry]:
        """Quotes made at ``start`` or later and before ``end``, oldest first."""
        table = QuoteRow.__table__
        statement = (
            select(table)
            .where(table.c.created_at >= start, table.c.created_at < end)
            .order_by(table.c.created_at, table.c.id)
        )
        return await self._select(statement)

    async def delete_before(self, cutoff: datetime) -> int:
        """Remove quotes made before ``cutoff``; returns how many."""
        statement = delete(QuoteRow).where(QuoteRow.created_at < cutoff)
        async with self._guard(WRITE_TIMEOUT_SECONDS), self.engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount or 0)

    async def count(self) -> int:
        """How many quotes the journal holds (tests, the bench)."""
        table = QuoteRow.__table__
        async with self._guard(READ_TIMEOUT_SECONDS), self.engine.connect() as connection:
            result = await connection.execute(select(func.count()).select_from(table))
            return int(result.scalar_one())

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
