"""Where the journal lives: ``DATABASE_URL``, or a SQLite file in ``DATA_DIR``.

Accepted, as platforms hand them out: ``postgresql+asyncpg://``, ``postgresql://`` and
``postgres://`` (all driven by asyncpg; ``?sslmode=require`` becomes asyncpg's ``ssl``);
``sqlite+aiosqlite:///path`` and ``sqlite:///path`` (aiosqlite). Without ``DATABASE_URL``
the journal is ``DATA_DIR/journal.sqlite3``.

Nothing here puts a URL's password into a message: :func:`where` names host, port and
database only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from engine.journal.errors import JournalConfigError

SQLITE_FILE = "journal.sqlite3"
DATABASE_URL_SHAPE = (
    "postgresql+asyncpg://user:password@host:5432/database or sqlite+aiosqlite:///path/to/file"
)
_POSTGRES = ("postgresql+asyncpg", "postgresql", "postgres")
_SQLITE = ("sqlite+aiosqlite", "sqlite")


@dataclass(frozen=True)
class DatabaseTarget:
    """A database the journal can open: the SQLAlchemy URL and what to call it in logs."""

    url: URL

    @property
    def backend(self) -> str:
        """``"postgresql"`` or ``"sqlite"``."""
        return "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    def where(self) -> str:
        """``host:port/database`` or the SQLite file's path: never the credentials."""
        if self.is_sqlite:
            return self.url.database or ":memory:"
        return f"{self.url.host or 'localhost'}:{self.url.port or 5432}/{self.url.database or ''}"

    @property
    def password(self) -> str | None:
        """The URL's password (to be redacted from logs)."""
        password = self.url.password
        return str(password) if password else None


def database_url_problem(text: str) -> str | None:
    """What is wrong with a ``DATABASE_URL`` (never quoting it), or None."""
    parts = urlsplit(text)
    if parts.scheme not in (*_POSTGRES, *_SQLITE):
        return f"not a database URL the journal can use; use {DATABASE_URL_SHAPE}"
    if parts.scheme in _SQLITE:
        if not parts.path.strip("/"):
            return f"no SQLite file named; use {DATABASE_URL_SHAPE}"
        return None
    try:
        parts.port  # noqa: B018 - urllib checks the port when it is read
    except ValueError:
        return f"the port is not a number from 1 to 65535; use {DATABASE_URL_SHAPE}"
    if not parts.hostname and "host=" not in parts.query:
        return f"no host; use {DATABASE_URL_SHAPE}"
    if not parts.path.strip("/"):
        return f"no database name after the host; use {DATABASE_URL_SHAPE}"
    return None


def database_target(database_url: str | None, data_dir: Path) -> DatabaseTarget:
    """The database for ``DATABASE_URL`` (or the SQLite file in ``data_dir``).

    Raises:
        JournalConfigError: the URL is malformed.
    """
    if database_url is None:
        path = (data_dir / SQLITE_FILE).absolute()
        return DatabaseTarget(URL.create("sqlite+aiosqlite", database=str(path)))
    problem = database_url_problem(database_url)
    if problem is not None:
        raise JournalConfigError(f"DATABASE_URL: {problem}")
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise JournalConfigError(f"DATABASE_URL: use {DATABASE_URL_SHAPE}") from None
    if url.drivername in _SQLITE:
        return DatabaseTarget(url.set(drivername="sqlite+aiosqlite"))
    query = dict(url.query)
    if "sslmode" in query and "ssl" not in query:
        query["ssl"] = query.pop("sslmode")
    return DatabaseTarget(url.set(drivername="postgresql+asyncpg", query=query))
