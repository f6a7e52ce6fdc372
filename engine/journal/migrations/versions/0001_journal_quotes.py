"""The quote journal: one row per quote shown.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Exact decimals: PostgreSQL NUMERIC keeps every digit; SQLite keeps the Decimal's text.
DECIMAL = sa.Numeric().with_variant(sa.String(64), "sqlite")


def upgrade() -> None:
    op.create_table(
        "journal_quotes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("entry_id", sa.String(32), nullable=False),
        sa.Column("quote_no", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admin_id", sa.BigInteger(), nullable=False),
        sa.Column("admin_username", sa.String(64), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("give", sa.String(10), nullable=False),
        sa.Column("get", sa.String(10), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("amount_given", DECIMAL, nullable=False),
        sa.Column("amount_received", DECIMAL, nullable=False),
        sa.Column("asset", sa.String(10), nullable=False),
        sa.Column("price", sa.String(10), nullable=False),
        sa.Column("base_rate", DECIMAL, nullable=False),
        sa.Column("final_rate", DECIMAL, nullable=False),
        sa.Column("margin", DECIMAL, nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("rate_age_seconds", sa.Integer(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("bot_version", sa.String(32), nullable=False),
        sa.UniqueConstraint("entry_id", name="uq_journal_quotes_entry_id"),
    )
    op.create_index("ix_journal_quotes_created_at", "journal_quotes", ["created_at"])
    op.create_index("ix_journal_quotes_quote_no", "journal_quotes", ["quote_no"])
    op.create_index(
        "ix_journal_quotes_admin_created", "journal_quotes", ["admin_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("journal_quotes")
