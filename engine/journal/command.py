"""``crypto-helper db upgrade``: bring the journal's database to the newest schema.

The bot does this itself at every start; the command is for a deploy step that migrates
before the new version takes traffic, or to create the tables ahead of time. It reads
``DATABASE_URL`` and ``DATA_DIR`` as the bot does (the environment, or ``./.env``) and
prints one line: what it did, or why it could not (exit 2), never the URL's password.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path

from engine.journal.errors import JournalConfigError, JournalUnavailableError
from engine.journal.store import JournalStore
from engine.journal.url import DatabaseTarget, database_target

EXIT_USER_ERROR = 2


async def _upgrade(target: DatabaseTarget) -> tuple[str | None, str]:
    store = JournalStore(target)
    try:
        return await store.upgrade()
    finally:
        await store.close()


def db_upgrade(environ: Mapping[str, str]) -> int:
    """Migrate the database ``environ`` names; the exit code."""
    try:
        target = database_target(
            environ.get("DATABASE_URL") or None, Path(environ.get("DATA_DIR") or "data")
        )
    except JournalConfigError as exc:
        print(f"environment: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        before, after = asyncio.run(_upgrade(target))
    except JournalUnavailableError as exc:
        print(
            f"journal database unusable at {target.where()} ({exc.cause}): "
            + (
                "fix DATA_DIR or DATABASE_URL"
                if target.is_sqlite
                else "start it or fix DATABASE_URL"
            ),
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    where = f"journal database {target.backend} at {target.where()}"
    if before == after:
        print(f"{where}: already at revision {after}, the newest")
    else:
        print(f"{where}: migrated from {before or 'an empty database'} to revision {after}")
    return 0
