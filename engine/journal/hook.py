"""The recording hook: ``compute_quote`` calls :func:`record_quote` once a quote is made.

It builds a :class:`~engine.journal.entry.JournalEntry` from the dialog data the action
stored (``give``, ``get``, ``margin``, ``quote``) and from the update's
:class:`QuoteOrigin` (who asked, in which chat, in which locale), and hands it to the
journal writer, which queues it and returns at once. Without a journal (tests, ``check``'s
previews) or without an origin (a preview) nothing is recorded.

The quote number is ``quote["number"]`` when the action set one (the card shows it), else
a new one, stored back into ``quote`` so the card and the row agree.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

from engine.journal.entry import JournalEntry, Mode
from engine.rates.quote_number import new_quote_number

log = logging.getLogger(__name__)

PACKAGE = "crypto-helper"


class JournalRecorderProtocol(Protocol):
    def record(self, entry: JournalEntry) -> None: ...


@dataclass(frozen=True, slots=True)
class QuoteOrigin:
    """Who asked for a quote and where: the admin, the chat and the admin's locale."""

    admin_id: int
    admin_username: str | None
    chat_id: int
    locale: str


@cache
def bot_version() -> str:
    """The installed package's version (``unknown`` when run from a bare checkout)."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "unknown"


def quote_entry(
    data: MutableMapping[str, Any], origin: QuoteOrigin, now: datetime
) -> JournalEntry:
    """The entry for the quote in ``data``, asked for from ``origin``."""
    quote: MutableMapping[str, Any] = data["quote"]
    number = quote.get("number") or new_quote_number()
    quote["number"] = number
    mode: Mode = "receive" if quote.get("fixed") == "receive" else "give"
    return JournalEntry(
        quote_no=str(number),
        created_at=now,
        admin_id=origin.admin_id,
        admin_username=origin.admin_username,
        chat_id=origin.chat_id,
        give=str(data["give"]),
        get=str(data["get"]),
        mode=mode,
        amount_given=Decimal(quote["amount"]),
        amount_received=Decimal(quote["result"]),
        asset=str(quote["asset"]),
        price=str(quote["price"]),
        base_rate=Decimal(quote["base_rate"]),
        final_rate=Decimal(quote["final_rate"]),
        margin=Decimal(quote["margin"]),
        sources=tuple(str(s) for s in quote["sources"]),
        rate_age_seconds=int(quote["age_seconds"]),
        stale=bool(quote["stale"]),
        held=bool(quote.get("held", False)),
        locale=origin.locale,
        bot_version=bot_version(),
    )


def record_quote(
    data: MutableMapping[str, Any],
    journal: JournalRecorderProtocol | None,
    origin: QuoteOrigin | None,
) -> None:
    """Record the quote just computed into ``data`` when a journal is wired and the origin
    is known; never raises and never waits (a quote is shown whatever happens to its row)."""
    if journal is None or origin is None:
        return
    try:
        entry = quote_entry(data, origin, datetime.now(UTC))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # a bug: say it loudly
        log.error("journal: the quote could not be recorded (%s: %s)", type(exc).__name__, exc)
        return
    journal.record(entry)
