"""Where the journal lives: ``DATABASE_URL``, or a SQLite file in ``DATA_DIR``.

Accepted, as platforms hand them out: ``postgresql+asyncpg://``, ``postgresql://`` and
``postgres://`` (all driven by asyncpg, which reads the URL itself, for the bot's queries
and for a migration alike: ``?sslmode=require`` and the other libpq parameters work as
with ``psql``; SQLAlchemy's ``?ssl=`` is taken as ``sslmode``); ``sqlite+aiosqlite:///path``
and ``sqlite:///path`` (a relative path after three slashes, an absolute one after four).
Without ``DATABASE_URL`` the journal is ``DATA_DIR/journal.sqlite3``.

Checked with :mod:`urllib.parse`, not SQLAlchemy's ``make_url``: importing SQLAlchemy is
11 MB of the bot's memory, and only a migration needs it.

Nothing here puts a URL's password into a message: :func:`where` names host, port and
database only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from engine.journal.errors import JournalConfigError

SQLITE_FILE = "journal.sqlite3"
DATABASE_URL_SHAPE = (
    "postgresql+asyncpg://user:password@host:5432/database or sqlite+aiosqlite:///path/to/file"
)
_POSTGRES = ("postgresql+asyncpg", "postgresql", "postgres")
_SQLITE = ("sqlite+aiosqlite", "sqlite")
Backend = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class DatabaseTarget:
    """A database the journal can open.

    ``location`` is the SQLite file's path, or the PostgreSQL URL as asyncpg reads it
    (``postgresql://…``, password included: never log it, :meth:`where` is for that).
    """

    backend: Backend
    location: str

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def _parts(self) -> SplitResult:
        return urlsplit(self.location)

    def where(self) -> str:
        """``host:port/database`` or the SQLite file's path: never the credentials."""
        if self.is_sqlite:
            return self.location
        parts = self._parts
        host = parts.hostname or dict(parse_qsl(parts.query)).get("host") or "localhost"
        return f"{host}:{parts.port or 5432}/{unquote(parts.path.lstrip('/'))}"

    @property
    def password(self) -> str | None:
        """The URL's password (to be redacted from logs)."""
        if self.is_sqlite:
            return None
        password = self._parts.password
        return unquote(password) if password else None


def database_url_problem(text: str) -> str | None:
    """What is wrong with a ``DATABASE_URL`` (never quoting it), or None."""
    try:
        parts = urlsplit(text)
    except ValueError:  # "Invalid IPv6 URL": a [ never closed
        return f"not a URL (a '[' around the host is not closed?); use {DATABASE_URL_SHAPE}"
    if parts.scheme not in (*_POSTGRES, *_SQLITE):
        return f"not a database URL the journal can use; use {DATABASE_URL_SHAPE}"
    if parts.scheme in _SQLITE:
        path = parts.path.removeprefix("/")
        if not path.strip("/"):
            return f"no SQLite file named; use {DATABASE_URL_SHAPE}"
        if path == ":memory:":
            return "an in-memory SQLite journal would be lost at every restart; name a file"
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
        return DatabaseTarget("sqlite", str((data_dir / SQLITE_FILE).absolute()))
    problem = database_url_problem(database_url)
    if problem is not None:
        raise JournalConfigError(f"DATABASE_URL: {problem}")
    parts = urlsplit(database_url)
    if parts.scheme in _SQLITE:
        return DatabaseTarget("sqlite", unquote(parts.path.removeprefix("/")))
    query = parse_qsl(parts.query, keep_blank_values=True)
    query = [("sslmode" if key == "ssl" else key, value) for key, value in query]
    dsn = parts._replace(scheme="postgresql", query=urlencode(query), fragment="")
    return DatabaseTarget("postgresql", urlunsplit(dsn))
