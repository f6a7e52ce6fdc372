"""What the journal's chat texts show: template contexts for ``/history`` and ``/today``,
the dialog data that reopens a stored quote as its card, and sample quotes for
``crypto-helper check`` and ``preview``. Pure: no aiogram, no database.

Times are the desk's (``bot.timezone``), formatted by Babel for the reader's locale;
amounts and rates stay Decimals for the templates' ``money`` and ``rate`` filters, so
they read exactly as on the cards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from engine.config.models import AppConfig
from engine.flow.context import currencies_context
from engine.journal.entry import JournalEntry
from engine.rates.quote import QuoteResult
from engine.rates.service import RateResult

HISTORY, TODAY = "history", "today"
JOURNAL_TEMPLATES = (HISTORY, TODAY)
HISTORY_LIMIT = 10
SAMPLE_NUMBERS = ("K7M2QX", "8TR4WD")  # fixed: previews and their snapshots stay the same
# A fixed time for previews (snapshots must not hold the current time): 1 Dec 2026 09:30 UTC.
SAMPLE_NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def base_context(config: AppConfig, locale: str) -> dict[str, Any]:
    return {"currencies": currencies_context(config, locale), "locale": locale}


def when(entry: JournalEntry, zone: ZoneInfo, locale: str, today: date) -> str:
    """``14:05`` today, else ``1 дек. 14:05`` (ru) / ``1 Dec 14:05`` (en), desk time."""
    local = entry.created_at.astimezone(zone)
    pattern = "HH:mm" if local.date() == today else "d MMM HH:mm"
    return format_datetime(local, pattern, locale=locale)


def entry_context(entry: JournalEntry, zone: ZoneInfo, locale: str, today: date) -> dict[str, Any]:
    """One quote, for a template line or a button label."""
    return {
        "id": entry.entry_id,
        "number": entry.quote_no,
        "when": when(entry, zone, locale, today),
        "admin": f"@{entry.admin_username}" if entry.admin_username else str(entry.admin_id),
        "admin_id": entry.admin_id,
        "give": entry.give,
        "receive": entry.get,  # not "get": a template's e.get is the dict's own method
        "mode": entry.mode,
        "amount": entry.amount_given,
        "result": entry.amount_received,
        "asset": entry.asset,
        "price": entry.price,
        "base_rate": entry.base_rate,
        "final_rate": entry.final_rate,
        "margin": entry.margin,
        "sources": list(entry.sources),
        "stale": entry.stale,
        "held": entry.held,
    }


def history_context(
    config: AppConfig,
    locale: str,
    entries: Sequence[JournalEntry],
    *,
    everyone: bool,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``/history``: the quotes newest first; ``everyone`` for ``/history all``."""
    zone = config.bot.zone
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    return {
        **base_context(config, locale),
        "entries": [entry_context(e, zone, locale, today) for e in entries],
        "everyone": everyone,
        "limit": HISTORY_LIMIT,
    }


def today_context(
    config: AppConfig, locale: str, entries: Iterable[JournalEntry], day: date
) -> dict[str, Any]:
    """``/today``: per direction (in config order), the quotes and the volume each way."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    count = 0
    for entry in entries:
        count += 1
        row = totals.setdefault(
            (entry.give, entry.get),
            {
                "give": entry.give,
                "receive": entry.get,
                "count": 0,
                "given": Decimal(0),
                "received": Decimal(0),
            },
        )
        row["count"] += 1
        row["given"] += entry.amount_given
        row["received"] += entry.amount_received
    order = {
        (give, get): i
        for i, (give, get) in enumerate(
            (give, get) for give, gets in config.directions.items() for get in gets
        )
    }
    directions = sorted(
        totals.values(), key=lambda r: order.get((r["give"], r["receive"]), 1 << 20)
    )
    return {
        **base_context(config, locale),
        "day": format_datetime(datetime(day.year, day.month, day.day), "d MMMM y", locale=locale),
        "timezone": config.bot.timezone,
        "count": count,
        "directions": directions,
    }


def card_data(entry: JournalEntry) -> dict[str, Any]:
    """The dialog data ``compute_quote`` stores, rebuilt from a stored quote: the result
    card renders it as it was shown, and a number typed on it requotes."""
    return {
        "give": entry.give,
        "get": entry.get,
        "margin": str(entry.margin),
        "amount": str(entry.amount_given),
        "quote": {
            "asset": entry.asset,
            "price": entry.price,
            "client_buys_asset": entry.client_buys_asset,
            "base_rate": str(entry.base_rate),
            "margin": str(entry.margin),
            "final_rate": str(entry.final_rate),
            "amount": str(entry.amount_given),
            "result": str(entry.amount_received),
            "sources": list(entry.sources),
            "age_seconds": entry.rate_age_seconds,
            "stale": entry.stale,
            "held": entry.held,
            "number": entry.quote_no,
            "fixed": entry.mode,
        },
    }


class SampleRatesProtocol(Protocol):
    async def quote(
        self, give: str, get: str, margin: Decimal, amount: Decimal
    ) -> tuple[QuoteResult, RateResult]: ...


async def sample_entries(
    config: AppConfig, rates: SampleRatesProtocol, now: datetime
) -> list[JournalEntry]:
    """A few quotes computed by ``rates`` (the offline static ones in ``check``), one per
    direction of the first two currencies given, as two admins made them: what previews
    of /history and /today show."""
    entries: list[JournalEntry] = []
    for index, (give, gets) in enumerate(list(config.directions.items())[:2]):
        get = gets[0]
        amount = config.currency(give).min_amount * 1000
        quote, rate = await rates.quote(give, get, Decimal(2), amount)
        entries.append(
            JournalEntry(
                quote_no=SAMPLE_NUMBERS[index],
                created_at=now - timedelta(days=index, minutes=5 * index),
                admin_id=1001 + index,
                admin_username="desk_anna" if index == 0 else None,
                chat_id=1001 + index,
                give=give,
                get=get,
                mode="give",
                amount_given=quote.amount,
                amount_received=quote.result,
                asset=quote.display.base,
                price=quote.display.quote,
                base_rate=quote.base_rate,
                final_rate=quote.final_rate,
                margin=quote.margin,
                sources=tuple(rate.sources),
                rate_age_seconds=round(rate.age_seconds),
                stale=index == 1,
                held=False,
                locale=config.bot.default_locale,
                bot_version="preview",
            )
        )
    return entries


def preview_cases(
    config: AppConfig, locale: str, entries: Sequence[JournalEntry], now: datetime
) -> Mapping[str, list[tuple[str, dict[str, Any]]]]:
    """Per journal template, the (case, context) pairs ``check`` and ``preview`` render."""
    mine = [e for e in entries if e.admin_id == entries[0].admin_id] if entries else []
    today = now.astimezone(config.bot.zone).date()
    todays = [replace(e, created_at=now) for e in entries]
    return {
        HISTORY: [
            ("mine", history_context(config, locale, mine, everyone=False, now=now)),
            ("all", history_context(config, locale, entries, everyone=True, now=now)),
            ("empty", history_context(config, locale, [], everyone=False, now=now)),
        ],
        TODAY: [
            ("quotes", today_context(config, locale, todays, today)),
            ("empty", today_context(config, locale, [], today)),
        ],
    }


def string_samples(config: AppConfig) -> dict[str, dict[str, Any]]:
    """Sample variables for every ``journal`` string, as the commands pass them."""
    first = next(iter(config.directions.items()))
    give, get = first[0], first[1][0]
    period = {"period": "2026-12-01 … 2026-12-07", "timezone": config.bot.timezone}
    return {
        "reopen_button": {
            "number": SAMPLE_NUMBERS[0],
            "amount": config.currency(give).min_amount * 1000,
            "give": give,
            "get": get,
        },
        "not_found": {},
        "unavailable": {"waiting": 3},
        "off": {},
        "history_usage": {"input": "<b>yesterday</b>"},
        "export_caption": {**period, "count": 1000},
        "export_empty": period,
        "period_bad_date": {"input": "<b>2026-13-01</b>"},
        "period_reversed": {"first": "2026-12-07", "last": "2026-12-01"},
        "period_too_long": {"days": 400, "max_days": 366},
        "period_too_many": {},
    }
