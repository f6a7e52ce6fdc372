"""Schema migrations: Alembic, with the revisions shipped in this package (``migrations/``).

Applied at every start (:meth:`engine.journal.store.JournalStore.upgrade`) and by
``crypto-helper db upgrade``. On PostgreSQL the upgrade holds a transaction-scoped advisory
lock, so replicas starting at once migrate one after the other (the second finds nothing
to do) instead of racing to create the same table.

Alembic is imported only when there is something to apply: importing it (and Mako, and
Pygments through Mako) is about 0.1 s and 9 MB of every start, while a database at the
newest revision, the usual case, needs one ``SELECT`` of its ``alembic_version`` row.
:func:`shipped_head` reads the newest revision from the shipped files' ``revision`` and
``down_revision`` lines; when they do not make one straight line, Alembic decides.
SQLAlchemy, which Alembic runs on, is imported here only too (:func:`migrate`): the
journal's own statements go to the drivers (:mod:`engine.journal.store`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: only a migration needs them (module docstring)
    from alembic.config import Config
    from sqlalchemy import Connection

    from engine.journal.url import DatabaseTarget

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: "journal" in ASCII, a number no other code of ours uses.
ADVISORY_LOCK_KEY = 0x6A6F75726E616C
VERSION_TABLE = "alembic_version"  # Alembic's default; env.py keeps it
# ``revision = '0002'`` / ``down_revision = '0001'`` (or None), as script.py.mako writes them.
_REVISION_LINE = re.compile(
    r"^(down_revision|revision)\s*=\s*(None|['\"]([^'\"]+)['\"])\s*$", re.MULTILINE
)


def shipped_head(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The newest revision in ``versions``, read from the files without Alembic; None when
    they are not one straight line of revisions (then Alembic must decide)."""
    revisions: dict[str, str | None] = {}
    for path in versions.glob("*.py"):
        if path.name.startswith("__"):
            continue
        found = {name: value for name, _, value in _REVISION_LINE.findall(path.read_text())}
        if not found.get("revision") or "down_revision" not in found:
            return None  # written some other way: Alembic reads it
        revisions[found["revision"]] = found["down_revision"] or None
    parents = set(revisions.values())
    heads = [revision for revision in revisions if revision not in parents]
    if len(heads) != 1 or len(parents) != len(revisions):  # a branch or a merge
        return None
    return heads[0]


def stored_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, read without Alembic (None: never migrated)."""
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    versions = list(rows)
    return versions[0] if len(versions) == 1 else None


def alembic_config() -> Config:
    """Alembic's configuration, without an ini file: only where the revisions are."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision shipped, as Alembic reads it."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, as Alembic reads it (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade_connection(connection: Connection) -> tuple[str | None, str]:
    """Bring the schema on ``connection`` to the head revision (sync; run through
    ``AsyncConnection.run_sync``); returns the revisions before and after."""
    # Alembic's INFO lines ("Context impl …", "Will assume transactional DDL") say nothing a
    # desk needs, and a start that fails later must print its one line only: the caller
    # says what changed, once the bot is up.
    from sqlalchemy import text

    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        before = stored_revision(connection)
        if before is not None and before == shipped_head():
            return before, before  # nothing to apply: no Alembic
        from alembic import command

        before = current_revision(connection)
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        after = current_revision(connection)
    finally:
        alembic_log.setLevel(level)
    assert after is not None
    return before, after


async def migrate(target: DatabaseTarget, driver_timeout: float) -> tuple[str | None, str]:
    """Bring ``target``'s schema to the head revision through SQLAlchemy and Alembic, on a
    connection of their own; returns the revisions before and after.

    The connection is opened by the driver itself, from the same path or URL the store
    opens (``async_creator``), so a URL asyncpg takes (``?application_name=``, any libpq
    parameter) migrates as it serves. ``driver_timeout``: SQLite's busy timeout, or
    asyncpg's to connect.
    """
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    async def connect() -> Any:
        if target.is_sqlite:
            import aiosqlite

            return await aiosqlite.connect(target.location, timeout=driver_timeout)
        import asyncpg

        return await asyncpg.connect(target.location, timeout=driver_timeout)

    dialect = "sqlite+aiosqlite://" if target.is_sqlite else "postgresql+asyncpg://"
    engine = create_async_engine(dialect, async_creator=connect, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(upgrade_connection)
    finally:
        await engine.dispose()
