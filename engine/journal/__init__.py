"""The quote journal: every quote shown, recorded in a database (SQLite or PostgreSQL).

Layers, bottom up: :mod:`~engine.journal.entry` (plain data), :mod:`~engine.journal.url`
(which database), :mod:`~engine.journal.migrate`, :mod:`~engine.journal.schema` and
``migrations/`` (the table: SQLAlchemy and Alembic, imported only for a migration),
:mod:`~engine.journal.store` (the queries, on aiosqlite and asyncpg; driver errors
translated), :mod:`~engine.journal.writer`
(the non-blocking queue), :mod:`~engine.journal.retention`, :mod:`~engine.journal.runtime`
(all of it opened together), :mod:`~engine.journal.hook` (what ``compute_quote`` calls),
and for the chat :mod:`~engine.journal.period` (``/export`` arguments),
:mod:`~engine.journal.export` (the CSV) and :mod:`~engine.journal.texts` (template
contexts). No aiogram here: the chat commands are :mod:`engine.bot.journal_commands`.

The package itself imports only the light modules (the entry and the errors):
``compute_quote`` reaches the hook on every ``crypto-helper check``, which must not pay for
a database driver. The database side is imported where it is opened.
"""

from engine.journal.entry import JournalEntry
from engine.journal.errors import JournalConfigError, JournalError, JournalUnavailableError

__all__ = ["JournalConfigError", "JournalEntry", "JournalError", "JournalUnavailableError"]
