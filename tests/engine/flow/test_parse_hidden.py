"""Typed numbers that look like one thing and are another (issue 9 §5): invisible characters,
direction controls, full-width and other scripts' digits."""

from __future__ import annotations

import sys
import unicodedata
from decimal import Decimal

import pytest
from aiogram_dialog.utils import REPLY_CALLBACK_SYMBOLS, encode_reply_callback
from hypothesis import given
from hypothesis import strategies as st

from engine.flow.parse import InputRejectedError, NumberRule, parse_number, strip_invisible

MARGIN = NumberRule(Decimal(0), Decimal(10), 2, allow_percent=True)
RUB = NumberRule(Decimal(1), Decimal(100_000_000), 2)

# Shown as nothing, removed: zero-width space/non-joiner/joiner, word joiner, invisible
# operators, BOM, soft hyphen, combining grapheme joiner, Mongolian vowel separator, Hangul
# filler, variation selectors (both blocks), tags, musical symbol formatting.
INVISIBLE = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\u2061",
    "\u2062",
    "\u2063",
    "\u2064",
    "\ufeff",
    "\u00ad",
    "\u034f",
    "\u180e",
    "\u3164",
    "\ufe00",
    "\ufe0f",
    "\U000e0100",
    "\U000e01ef",
    "\U000e0001",
    "\U000e0041",
    "\U0001d173",
    "\U0001d17a",
]
# Can change the order or shape in which digits are shown: refused.
DIRECTION = [
    "\u200e",
    "\u200f",
    "\u061c",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u206a",
    "\u206e",
    "\u206f",
]


def code_of(text: str, rule: NumberRule = MARGIN) -> str:
    with pytest.raises(InputRejectedError) as info:
        parse_number(text, rule)
    return info.value.code


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_invisible_characters_are_removed_wherever_they_are(char: str) -> None:
    assert parse_number("5" + char, MARGIN) == Decimal(5)
    assert parse_number(char + "5" + char * 2, MARGIN) == Decimal(5)
    assert parse_number("1" + char + "000" + char, RUB) == Decimal(1000)
    assert parse_number("2" + char + "," + char + "5" + char + "%", MARGIN) == Decimal("2.5")


def test_the_four_reported_inputs_read_as_typed() -> None:
    assert parse_number("5" + encode_reply_callback("margin_preset:0.5"), MARGIN) == 5
    assert parse_number("1000" + encode_reply_callback("cancel"), RUB) == 1000
    assert parse_number("2\u200c\u200c", MARGIN) == 2
    assert parse_number("2\U0001d173\U0001d173", MARGIN) == 2
    assert parse_number("5\u200b\u200c", MARGIN) == 5


def test_nothing_of_aiogram_dialogs_hidden_button_data_survives() -> None:
    assert strip_invisible(REPLY_CALLBACK_SYMBOLS) == ""


def test_only_invisible_characters_is_empty() -> None:
    assert code_of("\u200b\u200c\ufeff") == "empty"
    assert code_of(" \u2060 ") == "empty"


def test_the_length_limit_counts_what_is_seen() -> None:
    assert parse_number("1000" + "\u200b" * 100, RUB) == 1000


@pytest.mark.parametrize("char", DIRECTION, ids=lambda c: f"U+{ord(c):04X}")
def test_direction_controls_are_refused(char: str) -> None:
    assert code_of("5" + char) == "hidden_characters"
    assert code_of(char + "1 000", RUB) == "hidden_characters"


def test_an_override_that_shows_5_2_as_2_5_is_refused() -> None:
    assert code_of("\u202e2.5") == "hidden_characters"  # shown as "5.2"


def test_every_format_character_is_removed_or_refused() -> None:
    """No Cf character, and no default-ignorable one, reads as anything but the 5 seen."""
    suspects = [
        chr(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) == "Cf" or strip_invisible(chr(code)) == ""
    ]
    assert len(suspects) > 4000  # the Cf characters, the tag and variation selector blocks
    for char in suspects:
        try:
            value = parse_number("5" + char, MARGIN)
        except InputRejectedError as exc:
            assert exc.code == "hidden_characters", f"U+{ord(char):04X}"
        else:
            assert value == 5, f"U+{ord(char):04X}"


invisible = st.sampled_from(INVISIBLE)
amounts = st.decimals(min_value=1, max_value=100_000_000, places=2, allow_nan=False)


@given(amounts, st.lists(st.tuples(st.integers(0, 20), invisible), max_size=6))
def test_invisible_characters_anywhere_change_nothing(
    value: Decimal, noise: list[tuple[int, str]]
) -> None:
    text = f"{value:f}"
    for position, char in noise:
        cut = position % (len(text) + 1)
        text = text[:cut] + char + text[cut:]
    assert parse_number(text, RUB) == value


@given(st.text(max_size=20), st.sampled_from(DIRECTION), st.text(max_size=20))
def test_any_text_with_a_direction_control_is_refused(before: str, char: str, after: str) -> None:
    assert code_of(before + char + after, RUB) == "hidden_characters"


# Full-width forms are the ASCII glyphs, only wider (CJK keyboards): read as typed.
def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("text", "rule", "value"),
    [
        ("１５００", RUB, "1500"),
        ("２，５", MARGIN, "2.5"),
        ("２．５％", MARGIN, "2.5"),
        ("１\u3000０００", RUB, "1000"),
        ("１，０００，０００．５０", RUB, "1000000.50"),
        ("1５00", RUB, "1500"),
    ],
)
def test_full_width_digits_are_read(text: str, rule: NumberRule, value: str) -> None:
    assert parse_number(text, rule) == Decimal(value)


def test_full_width_minus_is_still_negative() -> None:
    assert code_of("－５") == "negative"


@given(amounts)
def test_full_width_reads_like_ascii(value: Decimal) -> None:
    assert parse_number(full_width(f"{value:f}"), RUB) == value
    assert parse_number(full_width(f"{value:f}".replace(".", ",")), RUB) == value


# Other scripts' digits are refused: "١٠٥" (105) looks like "1.5" to a reader of 0-9.
@pytest.mark.parametrize(
    "text",
    [
        "٣",
        "١٠٥",
        "٢٫٥",
        "۱۲۳",
        "١,٥",
        "१२३",
        "５٣",
        "5²",
        "①",
        "𝟓",
    ],
)
def test_other_scripts_digits_are_refused(text: str) -> None:
    assert code_of(text, RUB) == "foreign_digits"


foreign_digit = st.characters(categories=["Nd"]).filter(
    lambda c: not c.isascii() and not "\uff10" <= c <= "\uff19"
)


@given(st.integers(1, 99_999_999), st.integers(0, 7), foreign_digit)
def test_any_foreign_digit_is_refused(value: int, position: int, digit: str) -> None:
    text = str(value)
    cut = position % len(text)
    assert code_of(text[:cut] + digit + text[cut + 1 :], RUB) == "foreign_digits"
