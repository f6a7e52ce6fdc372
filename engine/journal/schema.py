"""The journal's table as SQLAlchemy declares it: what Alembic compares the migrations in
``migrations/`` against (``alembic revision --autogenerate``), nothing else.

The tables are created by those migrations (applied at start), never by
``metadata.create_all``; the bot reads and writes rows through the drivers
(:mod:`engine.journal.store`, whose docstring says how each column's values are stored).
So this module is imported only with Alembic, and the types here are the ones the first
migration created: exact decimals are ``NUMERIC`` on PostgreSQL and text on SQLite (which
has no exact decimal type and would turn a ``NUMERIC`` column into a float).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.journal.store import TABLE

DECIMAL = Numeric().with_variant(String(64), "sqlite")


class Base(DeclarativeBase):
    """The journal's declarative base (its own metadata)."""


class QuoteRow(Base):
    """One quote shown: see :class:`engine.journal.entry.JournalEntry` for the fields."""

    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    entry_id: Mapped[str] = mapped_column(String(32), unique=True)
    quote_no: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    admin_id: Mapped[int] = mapped_column(BigInteger())
    admin_username: Mapped[str | None] = mapped_column(String(64))
    chat_id: Mapped[int] = mapped_column(BigInteger())
    give: Mapped[str] = mapped_column(String(10))
    get: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(8))
    amount_given: Mapped[Decimal] = mapped_column(DECIMAL)
    amount_received: Mapped[Decimal] = mapped_column(DECIMAL)
    asset: Mapped[str] = mapped_column(String(10))
    price: Mapped[str] = mapped_column(String(10))
    base_rate: Mapped[Decimal] = mapped_column(DECIMAL)
    final_rate: Mapped[Decimal] = mapped_column(DECIMAL)
    margin: Mapped[Decimal] = mapped_column(DECIMAL)
    sources: Mapped[list[str]] = mapped_column(JSON())
    rate_age_seconds: Mapped[int] = mapped_column(Integer())
    stale: Mapped[bool] = mapped_column(Boolean())
    held: Mapped[bool] = mapped_column(Boolean())
    locale: Mapped[str] = mapped_column(String(8))
    bot_version: Mapped[str] = mapped_column(String(32))
