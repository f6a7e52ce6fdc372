"""bot.timezone and journal.retention_days in config.yaml: defaults and plain-words errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.loader import load_config
from engine.errors import ConfigError


def problems() -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config("config.yaml")
    return [str(p) for p in info.value.problems]


def test_defaults(project: Path) -> None:
    config = load_config("config.yaml")
    assert config.bot.timezone == "Europe/Moscow" and config.bot.zone.key == "Europe/Moscow"
    assert config.journal.retention_days == 365


def test_a_misspelt_time_zone(project: Path, edit, pos) -> None:
    edit("config.yaml", "timezone: Europe/Moscow", "timezone: Europe/Moskow")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'Europe/Moskow')}: bot.timezone: 'Europe/Moskow' is "
        "not a time zone I know; did you mean 'Europe/Moscow'?"
    ]


def test_a_time_zone_that_is_no_name(project: Path, edit, pos) -> None:
    edit("config.yaml", "timezone: Europe/Moscow", "timezone: +03:00")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', '+03:00')}: bot.timezone: '+03:00' is not a time "
        "zone I know; use a tz database name like Europe/Moscow, Asia/Dubai or UTC"
    ]


def test_retention_out_of_range(project: Path, edit, pos) -> None:
    edit("config.yaml", "retention_days: 365", "retention_days: 0")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'retention_days: 0', at='0')}: journal.retention_days: "
        "must be at least 1 (it is 0)"
    ]


@pytest.mark.parametrize("typed", ["moscow", "Moscow time", "europe/moscow"])
def test_a_city_or_the_wrong_case_is_recognised(project: Path, edit, typed: str) -> None:
    edit("config.yaml", "timezone: Europe/Moscow", f"timezone: {typed}")
    [problem] = problems()
    assert problem.endswith(
        f"bot.timezone: {typed!r} is not a time zone I know; did you mean 'Europe/Moscow'?"
    )
