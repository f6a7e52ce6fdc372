"""The journal's exceptions, all of them::

    JournalError
    ├── JournalConfigError       DATABASE_URL is malformed, or SQLite is asked to serve replicas
    └── JournalUnavailableError  the database did not answer, refused, or failed a statement

Database drivers' exceptions (asyncpg's, sqlite3's, OS errors; SQLAlchemy's in a migration) are
translated at :mod:`engine.journal.store`, once; their text never reaches a chat or a
start-up line (it may hold the URL), only :func:`failure_cause`'s few words.
"""

from __future__ import annotations

import socket
import sqlite3

from engine.errors import EngineError, causes


class JournalError(EngineError):
    """Root of the journal's errors."""


class JournalConfigError(JournalError):
    """The journal cannot be set up as configured; the message says what to change."""


class JournalUnavailableError(JournalError):
    """The database cannot be used right now.

    Args:
        cause: a few words on why (:func:`failure_cause`), never a URL or a password.
    """

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def failure_cause(exc: BaseException) -> str:
    """Why a database call failed, in a few words, from the exception chain."""
    for seen in causes(exc):
        name = type(seen).__name__
        if isinstance(seen, socket.gaierror):
            return "host not found"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError):
            return "no answer in time"
        if isinstance(seen, ConnectionError) or name == "ConnectionDoesNotExistError":
            return "connection lost"
        if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return "the server refused the credentials"
        if name == "InvalidCatalogNameError":
            return "the database does not exist"
        if name in ("CannotConnectNowError", "AdminShutdownError", "ConnectionFailureError"):
            return "the server is shutting down or starting"
        if name == "InsufficientPrivilegeError":
            return "permission denied"
        if name == "ClientConfigurationError":  # asyncpg: e.g. ?sslmode=bogus
            return "a parameter in DATABASE_URL has a value asyncpg does not take"
        if name == "UndefinedObjectError" and "configuration parameter" in str(seen):
            return "a parameter in DATABASE_URL is not a setting the server knows"
        if isinstance(seen, sqlite3.OperationalError):
            text = str(seen)
            if "locked" in text or "busy" in text:
                return "the database file is locked"
            if "readonly" in text or "read-only" in text:
                return "the database file is read-only"
            if "unable to open" in text:
                return "the database file cannot be opened"
            if "disk" in text:
                return "disk I/O error"
        if isinstance(seen, PermissionError):
            return "permission denied"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror.lower()
    return f"database error ({type(exc).__name__})"
