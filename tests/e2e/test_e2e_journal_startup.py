"""``crypto-helper run`` and the journal's database at start: one line, exit 2, when it
cannot be used (a malformed DATABASE_URL, SQLite with Redis replicas, a server that is not
there, a DATA_DIR that cannot hold the file); never the URL's password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_e2e_redis import RedisServer
from test_e2e_startup import refuses

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import free_port, write_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, upstreams: FakeProviders) -> Path:
    return write_project(tmp_path_factory.mktemp("journal-startup") / "project", upstreams)


@pytest.fixture
def closed_port() -> int:
    return free_port()  # nothing listens there once free_port let it go


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def test_sqlite_with_redis_replicas_is_refused(
    project: Path, tg: FakeTelegram, redis_server: RedisServer
) -> None:
    line = refuses(project, tg, REDIS_URL=redis_server.url)
    assert line == (
        "DATABASE_URL: the quote journal is a SQLite file, which one process alone may write, "
        "and Redis (REDIS_URL or storage.backend: redis) is for several replicas: set "
        "DATABASE_URL=postgresql+asyncpg://user:password@host:5432/database"
    )


def test_a_database_that_is_not_there(project: Path, tg: FakeTelegram, closed_port: int) -> None:
    line = refuses(
        project, tg, DATABASE_URL=f"postgresql://desk:s3cret-pw@127.0.0.1:{closed_port}/journal"
    )
    assert line == (
        f"journal database unusable at 127.0.0.1:{closed_port}/journal (connection refused): "
        "start it or fix DATABASE_URL"
    )


def test_a_malformed_database_url(project: Path, tg: FakeTelegram) -> None:
    line = refuses(project, tg, DATABASE_URL="mysql://desk:s3cret-pw@db/journal")
    assert line == (
        "environment: DATABASE_URL: not a database URL the journal can use; use "
        "postgresql+asyncpg://user:password@host:5432/database or "
        "sqlite+aiosqlite:///path/to/file"
    )


def test_a_data_dir_that_cannot_hold_the_journal(
    project: Path, tg: FakeTelegram, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = refuses(project, tg, DATA_DIR=str(blocker / "data"))
    assert line == (
        f"journal database unusable at {blocker / 'data' / 'journal.sqlite3'} (not a "
        "directory): fix DATA_DIR or DATABASE_URL"
    )
