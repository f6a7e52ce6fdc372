"""The journal's table, as SQLAlchemy 2 declarative models.

The tables are created by the Alembic migrations in ``migrations/`` (applied at start),
never by ``metadata.create_all``; this module only maps them.

Exact by construction: amounts and rates are :class:`ExactDecimal` (PostgreSQL
``NUMERIC`` without a scale, which keeps every digit given; SQLite has no exact decimal
type and would turn a ``NUMERIC`` column into a float, so there the text of the Decimal is
stored), times are :class:`UTCDateTime` (aware UTC in and out).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

TABLE = "journal_quotes"


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored without loss: ``NUMERIC`` on PostgreSQL, its text on SQLite."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"the journal stores finite Decimals only, not {value!r}")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent > 0:
            # asyncpg reads NUMERIC 100000000 as 1E+8; PostgreSQL's scale is never negative,
            # so the number was written with no decimals: give it back as written.
            with localcontext() as context:
                context.prec = max(context.prec, len(number.as_tuple().digits) + exponent)
                number = number.quantize(Decimal(1))
        return number


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime; SQLite (which keeps no zone) stores it as naive UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the journal stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    admin_id: Mapped[int] = mapped_column(BigInteger())
    admin_username: Mapped[str | None] = mapped_column(String(64))
    chat_id: Mapped[int] = mapped_column(BigInteger())
    give: Mapped[str] = mapped_column(String(10))
    get: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(8))
    amount_given: Mapped[Decimal] = mapped_column(ExactDecimal())
    amount_received: Mapped[Decimal] = mapped_column(ExactDecimal())
    asset: Mapped[str] = mapped_column(String(10))
    price: Mapped[str] = mapped_column(String(10))
    base_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    final_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    margin: Mapped[Decimal] = mapped_column(ExactDecimal())
    sources: Mapped[list[str]] = mapped_column(JSON())
    rate_age_seconds: Mapped[int] = mapped_column(Integer())
    stale: Mapped[bool] = mapped_column(Boolean())
    held: Mapped[bool] = mapped_column(Boolean())
    locale: Mapped[str] = mapped_column(String(8))
    bot_version: Mapped[str] = mapped_column(String(32))
