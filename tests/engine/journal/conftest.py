"""Journal fixtures: a real SQLite file and a real PostgreSQL scratch database.

``target`` runs a test once on each; the PostgreSQL one fails (does not skip) when no
server answers at ``TEST_DATABASE_URL`` (see tests/pgscratch.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pgscratch import ScratchDatabase

from engine.journal.store import JournalStore
from engine.journal.url import DatabaseTarget, database_target


@pytest.fixture
def pg_database() -> Iterator[ScratchDatabase]:
    database = ScratchDatabase().create()
    yield database
    database.drop()


# PostgreSQL (a scratch database each, on a server) is left to the full run.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseTarget:
    if request.param == "sqlite":
        return database_target(None, tmp_path / "data")
    database: ScratchDatabase = request.getfixturevalue("pg_database")
    return database_target(database.url, tmp_path)


@pytest.fixture
async def store(target: DatabaseTarget) -> AsyncIterator[JournalStore]:
    journal = JournalStore(target)
    await journal.upgrade()
    yield journal
    await journal.close()
