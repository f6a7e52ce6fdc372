"""/export periods: words, one date, a range, and the one-line refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.journal.period import MAX_DAYS, Period, PeriodError, parse_period, today_in

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("text", "first", "last", "name"),
    [
        ("", TODAY, TODAY, "quotes_2026-12-03.csv"),
        ("today", TODAY, TODAY, "quotes_2026-12-03.csv"),
        ("Сегодня", TODAY, TODAY, "quotes_2026-12-03.csv"),
        ("вчера", date(2026, 12, 2), date(2026, 12, 2), "quotes_2026-12-02.csv"),
        ("week", date(2026, 11, 27), TODAY, "quotes_2026-11-27_2026-12-03.csv"),
        ("неделя", date(2026, 11, 27), TODAY, "quotes_2026-11-27_2026-12-03.csv"),
        ("2026-12-01", date(2026, 12, 1), date(2026, 12, 1), "quotes_2026-12-01.csv"),
        ("01.12.2026", date(2026, 12, 1), date(2026, 12, 1), "quotes_2026-12-01.csv"),
        (
            "2026-12-01 2026-12-07",
            date(2026, 12, 1),
            date(2026, 12, 7),
            "quotes_2026-12-01_2026-12-07.csv",
        ),
        (
            "  2026-12-01   2026-12-01 ",
            date(2026, 12, 1),
            date(2026, 12, 1),
            "quotes_2026-12-01.csv",
        ),
        (
            "2025-12-03 2026-12-03",
            date(2025, 12, 3),
            date(2026, 12, 3),
            "quotes_2025-12-03_2026-12-03.csv",
        ),  # 366 days: the longest allowed
    ],
)
def test_periods(text: str, first: date, last: date, name: str) -> None:
    period = parse_period(text, TODAY)
    assert (period.first, period.last, period.file_name()) == (first, last, name)


@pytest.mark.parametrize(
    ("text", "code", "params"),
    [
        ("yesterdy", "period_bad_date", {"input": "yesterdy"}),
        ("2026-13-01", "period_bad_date", {"input": "2026-13-01"}),
        ("2026-02-30", "period_bad_date", {"input": "2026-02-30"}),
        ("20261201", "period_bad_date", {"input": "20261201"}),
        ("2026-12-01 tomorrow", "period_bad_date", {"input": "tomorrow"}),
        (
            "2026-12-07 2026-12-01",
            "period_reversed",
            {"first": "2026-12-07", "last": "2026-12-01"},
        ),
        ("2025-01-01 2026-12-01", "period_too_long", {"days": 700, "max_days": MAX_DAYS}),
        ("2026-12-01 2026-12-02 2026-12-03", "period_too_many", {}),
    ],
)
def test_refusals(text: str, code: str, params: dict[str, object]) -> None:
    with pytest.raises(PeriodError) as info:
        parse_period(text, TODAY)
    assert (info.value.code, info.value.params) == (code, params)


def test_days_are_the_desks() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    start, end = Period(date(2026, 12, 1), date(2026, 12, 1)).bounds(moscow)
    assert (start, end) == (
        datetime(2026, 11, 30, 21, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 21, 0, tzinfo=UTC),
    )
    # 22:30 UTC on 1 December is already 2 December in Moscow
    assert today_in(moscow, datetime(2026, 12, 1, 22, 30, tzinfo=UTC)) == date(2026, 12, 2)
    assert today_in(ZoneInfo("UTC"), datetime(2026, 12, 1, 22, 30, tzinfo=UTC)) == date(
        2026, 12, 1
    )


def test_a_day_across_a_clock_change_is_its_real_length() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = Period(date(2026, 10, 25), date(2026, 10, 25)).bounds(berlin)
    assert (end - start).total_seconds() == 25 * 3600
