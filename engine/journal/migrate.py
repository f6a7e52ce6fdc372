"""Schema migrations: Alembic, with the revisions shipped in this package (``migrations/``).

Applied at every start (:meth:`engine.journal.store.JournalStore.upgrade`) and by
``crypto-helper db upgrade``. On PostgreSQL the upgrade holds a transaction-scoped advisory
lock, so replicas starting at once migrate one after the other (the second finds nothing
to do) instead of racing to create the same table.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: "journal" in ASCII, a number no other code of ours uses.
ADVISORY_LOCK_KEY = 0x6A6F75726E616C


def alembic_config() -> Config:
    """Alembic's configuration, without an ini file: only where the revisions are."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision shipped."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_connection(connection: Connection) -> tuple[str | None, str]:
    """Bring the schema on ``connection`` to the head revision (sync; run through
    ``AsyncConnection.run_sync``); returns the revisions before and after."""
    # Alembic's INFO lines ("Context impl …", "Will assume transactional DDL") say nothing a
    # desk needs, and a start that fails later must print its one line only: the caller
    # says what changed, once the bot is up.
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        before = current_revision(connection)
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        after = current_revision(connection)
    finally:
        alembic_log.setLevel(level)
    assert after is not None
    return before, after
