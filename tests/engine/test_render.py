"""Locale-correct numbers and safe templates."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from engine.render import Renderer, format_age, format_number, format_percent_value


@pytest.mark.parametrize(
    ("value", "decimals", "locale", "text"),
    [
        (Decimal("1000000.5"), 2, "ru", "1\xa0000\xa0000,50"),
        (Decimal("1000000.5"), 2, "en", "1,000,000.50"),
        (Decimal("0.005654"), None, "ru", "0,005654"),
        (Decimal("85.30"), None, "en", "85.30"),
        (Decimal("26136957"), 0, "ru", "26\xa0136\xa0957"),
        ("1500", None, "en", "1,500"),
    ],
)
def test_numbers(value: object, decimals: int | None, locale: str, text: str) -> None:
    assert format_number(value, locale, decimals) == text


def test_formatting_never_rounds_again() -> None:
    # the value is rounded by the quote math; formatting shows every digit it has
    assert format_number(Decimal("0.00565400"), "en") == "0.00565400"


@pytest.mark.parametrize(
    ("value", "locale", "text"),
    [
        (Decimal("2.5"), "ru", "2,5\xa0%"),
        (Decimal("2.5"), "en", "2.5%"),
        (Decimal(0), "en", "0%"),
    ],
)
def test_percent(value: Decimal, locale: str, text: str) -> None:
    assert format_percent_value(value, locale) == text


@pytest.mark.parametrize(
    ("seconds", "locale", "text"),
    [
        (12, "ru", "12 секунд"),
        (190, "en", "3 minutes"),
        (7200, "ru", "2 часа"),
    ],
)
def test_age(seconds: int, locale: str, text: str) -> None:
    assert format_age(seconds, locale) == text


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "echo.j2").write_text("You typed {{ typed }}\n")
    (tmp_path / "en" / "undefined.j2").write_text("{{ nope }}")
    (tmp_path / "en" / "escape.j2").write_text("{{ ''.__class__.__mro__ }}")
    return Renderer(tmp_path, {"en": {"buttons": {"back": "← {{ word }}"}}})


def test_user_input_is_escaped(renderer: Renderer) -> None:
    assert renderer.window("en", "echo", {"typed": "<b>&"}) == "You typed &lt;b&gt;&amp;"


def test_undefined_names_fail_loudly(renderer: Renderer) -> None:
    with pytest.raises(UndefinedError):
        renderer.window("en", "undefined", {})


def test_templates_are_sandboxed(renderer: Renderer) -> None:
    with pytest.raises(SecurityError):
        renderer.window("en", "escape", {})


def test_strings(renderer: Renderer) -> None:
    assert renderer.string("en", "buttons", "back", {"word": "Back"}) == "← Back"
