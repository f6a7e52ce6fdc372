"""Journal test helpers: a quote as compute_quote records it, at a fixed time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.journal.entry import JournalEntry

T0 = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


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
