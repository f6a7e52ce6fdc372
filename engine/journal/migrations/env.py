"""Alembic's environment for the journal.

The journal runs migrations on a connection it opened (:mod:`engine.journal.migrate`
passes it in ``config.attributes["connection"]``), inside its transaction: PostgreSQL
replicas starting together take an advisory lock first, so one of them migrates and the
others find the work done.
"""

from __future__ import annotations

from alembic import context

from engine.journal.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the journal always passes its connection
    raise RuntimeError("run the journal's migrations with: crypto-helper db upgrade")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
