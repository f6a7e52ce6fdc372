"""A journal entry: one quote as it was shown, in plain data (no database, no aiogram).

Every number is a :class:`~decimal.Decimal` with the digits the quote had; the time is UTC.
``entry_id`` is the row's identity: the writer may write an entry twice (a batch whose
commit succeeded on the server but whose answer was lost is retried), and the second
write is ignored. ``quote_no`` is the short number shown on the card.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

Mode = Literal["give", "receive"]


def new_entry_id() -> str:
    """A fresh row identity: 32 hex digits (a UUID4)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One quote shown to an admin.

    ``asset`` and ``price`` name the rate's pair ("1 asset = rate price"), so the stored
    rates read the way the card showed them.
    """

    quote_no: str
    created_at: datetime  # aware, UTC
    admin_id: int
    admin_username: str | None
    chat_id: int
    give: str
    get: str
    mode: Mode
    amount_given: Decimal
    amount_received: Decimal
    asset: str
    price: str
    base_rate: Decimal
    final_rate: Decimal
    margin: Decimal
    sources: tuple[str, ...]
    rate_age_seconds: int
    stale: bool
    held: bool
    locale: str
    bot_version: str
    entry_id: str = field(default_factory=new_entry_id)

    @property
    def client_buys_asset(self) -> bool:
        """Whether the client gives the price currency (the margin raises the rate)."""
        return self.give == self.price
