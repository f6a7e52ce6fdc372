"""Journal fixtures: a real SQLite file and a real PostgreSQL scratch database.

``target`` runs a test once on each; the PostgreSQL one fails (does not skip) when no
server answers at ``TEST_DATABASE_URL`` (see tests/pgscratch.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pgscratch import ScratchDatabase

from engine.journal.entry import JournalEntry
from engine.journal.store import JournalStore
from engine.journal.url import DatabaseTarget, database_target

T0 = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def pg_database() -> Iterator[ScratchDatabase]:
    database = ScratchDatabase().create()
    yield database
    database.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
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


def entry(n: int = 0, **changes: object) -> JournalEntry:
    """A quote as compute_quote would record it (RUB → USDT, 2 %)."""
    base = JournalEntry(
        quote_no=f"Q{n:05d}",
        created_at=T0 + timedelta(seconds=n),
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
        bot_version="0.1.0",
    )
    return replace(base, **changes)  # type: ignore[arg-type]
