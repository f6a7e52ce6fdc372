"""The journal as the running bot holds it: store, writer and retention, opened and closed
together (:func:`open_journal`, entered by the composition root)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from engine.config.models import JournalConfig
from engine.journal.retention import Retention
from engine.journal.store import JournalStore
from engine.journal.url import DatabaseTarget
from engine.journal.writer import JournalWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Journal:
    """The open journal: where quotes are written, and read back by the chat."""

    target: DatabaseTarget
    store: JournalStore
    writer: JournalWriter
    retention: Retention


@contextlib.asynccontextmanager
async def open_journal(target: DatabaseTarget, config: JournalConfig) -> AsyncIterator[Journal]:
    """Migrate the database, start the writer and the daily retention; on exit write what
    is queued (bounded), stop and close.

    Raises:
        JournalUnavailableError: the database did not answer or refused the migration.
    """
    store = JournalStore(target)
    try:
        before, after = await store.upgrade()
        if before != after:
            log.info("journal: schema migrated from %s to %s", before or "empty", after)
        writer = JournalWriter(store, backend=target.backend)
        retention = Retention(store, config.retention_days)
        writer.start()
        retention.start()
        try:
            yield Journal(target, store, writer, retention)
        finally:
            await retention.stop()
            await writer.close()
    finally:
        await store.close()
