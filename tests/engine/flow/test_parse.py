"""Parsing what people type into number fields."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.flow.parse import MAX_INPUT_LENGTH, InputRejectedError, NumberRule, parse_number

MARGIN = NumberRule(Decimal(0), Decimal(10), 2, allow_percent=True)
RUB = NumberRule(Decimal(1), Decimal(100_000_000), 2)
IDR = NumberRule(Decimal(1000), Decimal(20_000_000_000), 0)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", "2"),
        ("2.5", "2.5"),
        ("2,5", "2.5"),
        ("2.5%", "2.5"),
        (" 2,5 % ", "2.5"),
        ("0", "0"),
        ("10", "10"),
        ("0.05", "0.05"),
    ],
)
def test_margin_accepts(text: str, value: str) -> None:
    assert parse_number(text, MARGIN) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 000 000", "1000000"),
        ("1000,50", "1000.50"),
        ("1\u00a0000", "1000"),
        ("1\u202f000\u202f000", "1000000"),
        ("1,000,000.50", "1000000.50"),
        ("1.000.000,50", "1000000.50"),
        ("1'000", "1000"),
        ("1000.00", "1000.00"),
        ("100000000", "100000000"),
    ],
)
def test_amount_accepts(text: str, value: str) -> None:
    assert parse_number(text, RUB) == Decimal(value)


def test_trailing_zeros_do_not_count_as_decimals() -> None:
    assert parse_number("25000,00", IDR) == Decimal("25000.00")


@pytest.mark.parametrize(
    ("text", "rule", "code"),
    [
        ("", MARGIN, "empty"),
        ("   ", MARGIN, "empty"),
        ("abc", MARGIN, "not_a_number"),
        ("NaN", MARGIN, "not_a_number"),
        ("Infinity", MARGIN, "not_a_number"),
        ("-Infinity", MARGIN, "not_a_number"),
        ("1e309", MARGIN, "not_a_number"),
        ("1E2", MARGIN, "not_a_number"),
        ("<b>1</b>", MARGIN, "not_a_number"),
        ("0x10", MARGIN, "not_a_number"),
        ("1.2.3", MARGIN, "not_a_number"),
        ("1,5,3", MARGIN, "not_a_number"),
        ("2%%", MARGIN, "not_a_number"),
        ("5%", RUB, "not_a_number"),
        ("+5", MARGIN, "not_a_number"),
        ("٣", MARGIN, "foreign_digits"),
        ("-1", MARGIN, "negative"),
        ("-0,5", MARGIN, "negative"),
        ("10.01", MARGIN, "too_large"),
        ("11", MARGIN, "too_large"),
        ("0.5", RUB, "too_small"),
        ("100000000.01", RUB, "too_large"),
        ("2.555", MARGIN, "too_many_decimals"),
        ("1000.5", IDR, "too_many_decimals"),
        ("1,000", RUB, "ambiguous"),
        ("25.000", RUB, "ambiguous"),
        ("1" * (MAX_INPUT_LENGTH + 1), RUB, "too_long"),
    ],
)
def test_rejects_with_a_specific_code(text: str, rule: NumberRule, code: str) -> None:
    with pytest.raises(InputRejectedError) as info:
        parse_number(text, rule)
    assert info.value.code == code


def test_limits_travel_with_the_error() -> None:
    with pytest.raises(InputRejectedError) as info:
        parse_number("0.5", RUB)
    assert info.value.params == {"min": Decimal(1), "max": Decimal(100_000_000)}


@given(st.text(max_size=60))
def test_any_text_is_a_number_or_a_clear_rejection(text: str) -> None:
    try:
        value = parse_number(text, RUB)
    except InputRejectedError as exc:
        assert exc.code in {
            "empty",
            "too_long",
            "hidden_characters",
            "foreign_digits",
            "not_a_number",
            "ambiguous",
            "negative",
            "too_small",
            "too_large",
            "too_many_decimals",
        }
    else:
        assert value.is_finite()
        assert RUB.min is not None and RUB.max is not None
        assert RUB.min <= value <= RUB.max


@given(st.decimals(min_value=1, max_value=100_000_000, places=2, allow_nan=False))
def test_plain_decimals_round_trip(value: Decimal) -> None:
    assert parse_number(f"{value:f}", RUB) == value
    assert parse_number(f"{value:f}".replace(".", ","), RUB) == value
