"""``/export`` periods: what the admin typed → the days to export, in the desk's time zone.

``/export`` (or ``today``, ``сегодня``) is today; ``yesterday`` (``вчера``); ``week``
(``неделя``) is the last seven days, today included; one date (``2026-12-01`` or
``01.12.2026``) is that day; two dates are a range, both days included, of at most
:data:`MAX_DAYS` days. Anything else is a :class:`PeriodError` whose ``code`` names the
``journal.period_*`` string that explains it. Pure: ``today`` is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.journal.errors import JournalError

MAX_DAYS = 366
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
TODAY_WORDS = frozenset({"today", "сегодня"})
YESTERDAY_WORDS = frozenset({"yesterday", "вчера"})
WEEK_WORDS = frozenset({"week", "неделя", "неделю"})


class PeriodError(JournalError):
    """The period typed cannot be exported; ``code`` is a ``journal`` string key."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params: dict[str, Any] = params


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days from ``first`` to ``last``, both included."""

    first: date
    last: date
    word: str = field(default="", compare=False)  # "today", "week"… when a word named it

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The first instant and the instant after the period, in UTC."""
        start = datetime.combine(self.first, time(0), zone)
        end = datetime.combine(self.last + timedelta(days=1), time(0), zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    @property
    def label(self) -> str:
        """``2026-12-01`` or ``2026-12-01 … 2026-12-07``."""
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} … {self.last.isoformat()}"

    def file_name(self, prefix: str = "quotes") -> str:
        """``quotes_2026-12-01.csv`` or ``quotes_2026-12-01_2026-12-07.csv``."""
        if self.first == self.last:
            return f"{prefix}_{self.first.isoformat()}.csv"
        return f"{prefix}_{self.first.isoformat()}_{self.last.isoformat()}.csv"


def today_in(zone: ZoneInfo, now: datetime | None = None) -> date:
    """The desk's date now."""
    return (now or datetime.now(UTC)).astimezone(zone).date()


def parse_date(text: str) -> date:
    """``2026-12-01`` or ``01.12.2026``.

    Raises:
        PeriodError: ``period_bad_date``.
    """
    iso, dotted = _ISO.match(text), _DOTTED.match(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if dotted:
            return date(int(dotted[3]), int(dotted[2]), int(dotted[1]))
    except ValueError:  # 2026-02-30
        pass
    raise PeriodError("period_bad_date", input=text[:24])


def parse_period(text: str, today: date) -> Period:
    """The period ``text`` names (see the module docstring).

    Raises:
        PeriodError: a word or date that is not one, a range that ends before it starts
            or is longer than :data:`MAX_DAYS`, more than two dates.
    """
    words = text.split()
    if not words:
        return Period(today, today, "today")
    if len(words) == 1:
        word = words[0].casefold()
        if word in TODAY_WORDS:
            return Period(today, today, "today")
        if word in YESTERDAY_WORDS:
            day = today - timedelta(days=1)
            return Period(day, day, "yesterday")
        if word in WEEK_WORDS:
            return Period(today - timedelta(days=6), today, "week")
    if len(words) > 2:
        raise PeriodError("period_too_many")
    first = parse_date(words[0])
    last = parse_date(words[1]) if len(words) == 2 else first
    if last < first:
        raise PeriodError("period_reversed", first=first.isoformat(), last=last.isoformat())
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise PeriodError("period_too_long", days=period.days, max_days=MAX_DAYS)
    return period
