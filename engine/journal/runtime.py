"""The journal as the running bot holds it: store, writer and retention, opened and closed
together (:func:`open_journal`, entered by the composition root)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from engine.config.models import JournalConfig
from engine.journal.retention import Retention
from engine.journal.store import JournalStore
from engine.journal.url import DatabaseTarget
from engine.journal.writer import JournalWriter


@dataclass(frozen=True)
class Journal:
    """The open journal: where quotes are written, and read back by the chat."""

    target: DatabaseTarget
    store: JournalStore
    writer: JournalWriter
    retention: Retention
    revisions: tuple[str | None, str]  # the schema's before and after the start's upgrade

    def describe(self) -> str:
        """One log line: where the journal is and what the start's upgrade did."""
        before, after = self.revisions
        line = f"journal: {self.target.backend} at {self.target.where()}"
        if before != after:
            line += f" (schema migrated from {before or 'empty'} to {after})"
        return line


@contextlib.asynccontextmanager
async def open_journal(target: DatabaseTarget, config: JournalConfig) -> AsyncIterator[Journal]:
    """Migrate the database, start the writer and the daily retention; on exit write what
    is queued (bounded), stop and close.

    Raises:
        JournalUnavailableError: the database did not answer or refused the migration.
    """
    store = JournalStore(target)
    try:
        revisions = await store.upgrade()
        writer = JournalWriter(store, backend=target.backend)
        retention = Retention(store, config.retention_days)
        writer.start()
        retention.start()
        try:
            yield Journal(target, store, writer, retention, revisions)
        finally:
            await retention.stop()
            await writer.close()
    finally:
        await store.close()
