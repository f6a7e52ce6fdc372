"""The one-line quote parser: pure, no bot (issue 11 §4)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.config import load_config
from engine.flow.loader import load_flows
from engine.flow.oneline import (
    OneLine,
    OneLineRejectedError,
    QuoteRequest,
    check_line,
    read_line,
    vocabulary,
)

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load_config(ROOT / "config.yaml")
FLOW = load_flows(CONFIG)[0]
WORDS = vocabulary(CONFIG)


def quote(text: str) -> QuoteRequest:
    return check_line(read_line(text, WORDS), CONFIG, FLOW)


def refusal(text: str) -> tuple[str, str]:
    with pytest.raises(OneLineRejectedError) as info:
        quote(text)
    return info.value.section, info.value.code


@pytest.mark.parametrize(
    ("text", "give", "get", "amount", "margin"),
    [
        ("1000 rub usdt 2", "RUB", "USDT", "1000", "2"),
        ("1000 rub usdt 2%", "RUB", "USDT", "1000", "2"),
        ("1000 RUB USDT 2 %", "RUB", "USDT", "1000", "2"),
        ("1 000 000 руб в usdt 1,5", "RUB", "USDT", "1000000", "1.5"),
        ("1\u00a0000 руб в usdt 1,5", "RUB", "USDT", "1000", "1.5"),
        ("usdt 500 → thb", "USDT", "THB", "500", "1"),
        ("500 usdt -> rub 0.5", "USDT", "RUB", "500", "0.5"),
        ("500 usdt to rub", "USDT", "RUB", "500", "1"),
        ("1000₽ за $ 1.5%", "RUB", "USD", "1000", "1.5"),
        ("2% 1000 рублей в евро", "RUB", "EUR", "1000", "2"),
        ("rub/usdt 1000 2", "RUB", "USDT", "1000", "2"),
        ("отдаёт 1000 руб, получает usdt 2", "RUB", "USDT", "1000", "2"),
        ("１０００ rub usdt", "RUB", "USDT", "1000", "1"),  # full-width digits, as the dialog
    ],
)
def test_reads(text: str, give: str, get: str, amount: str, margin: str) -> None:
    request = quote(text)
    assert (request.give, request.get) == (give, get)
    assert (request.amount, request.margin) == (Decimal(amount), Decimal(margin))
    assert request.fixed == "give"


@pytest.mark.parametrize(
    ("text", "give", "get", "amount", "margin"),
    [
        ("получить 500 usdt за rub 2", "RUB", "USDT", "500", "2"),
        ("receive 500 usdt for rub", "RUB", "USDT", "500", "1"),
        ("получить 1 000 000 idr за usdt 1,5%", "USDT", "IDR", "1000000", "1.5"),
    ],
)
def test_reads_receive_mode(text: str, give: str, get: str, amount: str, margin: str) -> None:
    """The amount is what the client receives, in the currency next to it."""
    request = quote(text)
    assert (request.give, request.get, request.fixed) == (give, get, "receive")
    assert (request.amount, request.margin) == (Decimal(amount), Decimal(margin))
    assert request.as_data()["fixed"] == "receive"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("получить 500 usdt", ("oneline", "missing_currency")),
        ("получить 0,001 usdt за rub", ("errors", "too_many_decimals")),  # USDT's 2 decimals
        ("1000 rub xyz 2", ("oneline", "unknown_word")),
        ("1000 rub", ("oneline", "missing_currency")),
        ("1000", ("oneline", "missing_currency")),
        ("rub usdt 2%", ("oneline", "missing_amount")),
        ("1000 usd eur", ("oneline", "unknown_direction")),
        ("1000 rub rub", ("oneline", "unknown_direction")),
        ("1000 rub usdt eur", ("oneline", "too_many")),
        ("1000 rub usdt 2 3", ("oneline", "too_many")),
        ("1,000 rub usdt", ("errors", "ambiguous")),
        ("1000 rub usdt 11", ("errors", "too_large")),
        ("1000 rub usdt -2", ("errors", "negative")),
        ("0 rub usdt", ("errors", "too_small")),
        ("1000,555 usdt idr", ("errors", "too_many_decimals")),
        ("٣ rub usdt", ("errors", "foreign_digits")),
        ("1000 rub\u202e usdt", ("errors", "hidden_characters")),
        ("1000 rub usdt " + "9" * 200, ("errors", "too_long")),
    ],
)
def test_refuses_with_a_code(text: str, code: tuple[str, str]) -> None:
    assert refusal(text) == code


def test_amount_limits_are_the_give_currencys() -> None:
    assert refusal("100000001 rub usdt") == ("errors", "too_large")
    assert refusal("1000000,5 usdt rub 1") == ("errors", "too_large")


def test_no_margin_is_the_configured_default() -> None:
    assert CONFIG.quote.default_margin == Decimal(1)
    request = quote("500 usdt rub")
    assert (request.margin, request.default_margin) == (Decimal(1), True)
    assert quote("500 usdt rub 1").default_margin is False


def test_a_word_not_a_quote_is_no_attempt() -> None:
    for text in ("hello", "2", "rub", "спасибо 2"):
        assert not read_line(text, WORDS).attempt
    for text in ("1000 rub", "1000 rub xyz", "получить usdt"):
        assert read_line(text, WORDS).attempt


def test_aliases_are_case_insensitive_and_codes_always_work() -> None:
    assert read_line("1000 РУБ USDT", WORDS) == OneLine(amount="1000", give="RUB", get="USDT")
    assert read_line("1000 Rub UsDt", WORDS) == OneLine(amount="1000", give="RUB", get="USDT")


@given(
    amount=st.integers(min_value=1, max_value=999_999),
    cents=st.integers(min_value=0, max_value=99),
    margin=st.decimals(min_value=0, max_value=10, places=2),
    give_get=st.sampled_from([(g, t) for g, ts in CONFIG.directions.items() for t in ts]),
    joiner=st.sampled_from([" ", " в ", " to ", " → ", " -> ", " за "]),
    case=st.sampled_from([str.lower, str.upper]),
    percent=st.booleans(),
)
def test_any_well_formed_line_is_read_back(
    amount: int,
    cents: int,
    margin: Decimal,
    give_get: tuple[str, str],
    joiner: str,
    case: object,
    percent: bool,
) -> None:
    give, get = give_get
    decimals = CONFIG.currency(give).decimals
    value = Decimal(amount) + (Decimal(cents) / 100 if decimals else 0)
    if value < CONFIG.currency(give).min_amount:
        return
    text = f"{value} {case(give)}{joiner}{case(get)} {margin}{'%' if percent else ''}"  # type: ignore[operator]
    request = quote(text)
    assert (request.give, request.get, request.amount, request.margin) == (
        give,
        get,
        value,
        margin,
    )


@given(st.text(max_size=60))
def test_any_text_is_a_quote_or_a_clear_refusal(text: str) -> None:
    try:
        request = quote(text)
    except OneLineRejectedError as exc:
        assert exc.section in ("oneline", "errors") and exc.code
    else:
        assert request.give in CONFIG.directions
        assert request.get in CONFIG.directions[request.give]
