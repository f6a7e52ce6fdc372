"""The recording hook: ``compute_quote`` calls :func:`record_quote` once a quote is made.

It builds a :class:`~engine.journal.entry.JournalEntry` from the dialog data the action
stored (``give``, ``get``, ``margin``, ``quote``) and from aiogram's middleware data (who,
in which chat; the journal writer as ``journal``), and hands it to the writer, which
queues it and returns at once. Without a journal (tests, ``check``'s previews) or without
a user (a preview) nothing is recorded.

The quote number is ``quote["number"]`` when the action set one (the card shows it), else
a new one, stored back into ``quote`` so the card and the row agree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

from engine.config.models import AppConfig
from engine.journal.entry import JournalEntry, Mode
from engine.locale import user_locale
from engine.rates.quote_number import new_quote_number

log = logging.getLogger(__name__)

PACKAGE = "crypto-helper"


class JournalRecorderProtocol(Protocol):
    def record(self, entry: JournalEntry) -> None: ...


@cache
def bot_version() -> str:
    """The installed package's version (``unknown`` when run from a bare checkout)."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "unknown"


def quote_entry(
    data: MutableMapping[str, Any], services: Mapping[str, Any], now: datetime
) -> JournalEntry | None:
    """The entry for the quote in ``data``; None when no user or chat is known."""
    user = services.get("event_from_user")
    chat = services.get("event_chat")
    if user is None or chat is None:
        return None
    quote: MutableMapping[str, Any] = data["quote"]
    number = quote.get("number") or new_quote_number()
    quote["number"] = number
    config: AppConfig | None = services.get("config")
    if config is not None:
        locale = user_locale(user, config.locales, config.bot.default_locale)
    else:
        locale = str(getattr(user, "language_code", None) or "")
    mode: Mode = "receive" if quote.get("fixed") == "receive" else "give"
    return JournalEntry(
        quote_no=str(number),
        created_at=now,
        admin_id=int(user.id),
        admin_username=getattr(user, "username", None),
        chat_id=int(chat.id),
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
        locale=locale,
        bot_version=bot_version(),
    )


def record_quote(data: MutableMapping[str, Any], services: Mapping[str, Any]) -> None:
    """Record the quote just computed into ``data`` when a journal is wired; never raises
    and never waits (a quote is shown whatever happens to its row)."""
    journal: JournalRecorderProtocol | None = services.get("journal")
    if journal is None:
        return
    try:
        entry = quote_entry(data, services, datetime.now(UTC))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # a bug: say it loudly
        log.error("journal: the quote could not be recorded (%s: %s)", type(exc).__name__, exc)
        return
    if entry is not None:
        journal.record(entry)
