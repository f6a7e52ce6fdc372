"""Quote math: the seed example, display rounding, leg composition, argument checks."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from rates_fakes import APILAYER, RAPIRA, make_config

from engine.config.models import AppConfig, RoutingConfig
from engine.rates.errors import RatesUnavailableError
from engine.rates.quote import compute_quote, display_rate, round_rate
from engine.rates.routing import Leg, Route, resolve
from providers.base import Pair, Quote

USDT_RUB = Pair("USDT", "RUB")


def test_seed_example(config: AppConfig) -> None:
    # base 85.30, margin 2 %, client gives 1000 RUB for USDT:
    # 85.30 × 1.02 = 87.006 → 87.01; 1000 ÷ 87.01 = 11.4929… → 11.49
    route = resolve(config, "RUB", "USDT")
    q = compute_quote(route, Decimal("85.30"), Decimal(2), Decimal(1000), config=config)
    assert (q.base_rate, q.final_rate, q.amount, q.result) == (
        Decimal("85.30"),
        Decimal("87.01"),
        Decimal("1000.00"),
        Decimal("11.49"),
    )
    assert (q.give, q.get, q.display, q.client_buys_asset) == ("RUB", "USDT", USDT_RUB, True)
    assert str(q.base_rate) == "85.30"


def test_client_selling_the_asset_gets_a_lower_rate(config: AppConfig) -> None:
    # 85.30 × 0.98 = 83.594 → 83.59 (down: desk's favour); 10 × 83.59 = 835.90
    route = resolve(config, "USDT", "RUB")
    q = compute_quote(route, Decimal("85.30"), Decimal(2), Decimal(10), config=config)
    assert (q.final_rate, q.result, q.client_buys_asset) == (
        Decimal("83.59"),
        Decimal("835.90"),
        False,
    )


@pytest.mark.parametrize(
    ("rate", "shown"),
    [
        ("85.3456", "85.35"),  # ≥ 1: rate_decimals (and ≥ 4 significant digits)
        ("85.30", "85.30"),  # 0.01 is 0.0117 % of 85.30: within 0.015 %
        ("15086.664308", "15086.66"),
        ("2.6850", "2.6850"),  # 0.001 would be 0.037 % of it: the bound adds a place
        ("22.19", "22.190"),  # 0.01 is 0.045 % of 22.19
        ("31.76908752327746741", "31.769"),
        ("1.0466257", "1.0466"),
        ("0.9055201", "0.9055"),
        ("0.005654", "0.0056540"),  # never 0.01
        ("0.0000123456", "0.000012346"),
        ("0.099996", "0.10000"),  # places fixed before rounding into the next decade
    ],
)
def test_round_rate(config: AppConfig, rate: str, shown: str) -> None:
    assert str(round_rate(Decimal(rate), config.routing)) == shown


def routing_with(config: AppConfig, **fields: object) -> RoutingConfig:
    return make_config(routing={**config.routing.model_dump(), **fields}).routing


@pytest.mark.parametrize(
    ("bound", "rate", "shown"),
    [
        ("1", "2.6850", "2.685"),  # a loose bound: the display minimums decide
        ("0.0001", "85.30", "85.30000"),
        ("0.015", "6.6666667", "6.667"),  # 0.001 is 0.0149999… % of it: 3 decimals do
        ("0.015", "6.6666666", "6.6667"),  # … here 0.0150000002 %: one more
    ],
)
def test_round_rate_meets_max_rounding_percent(
    config: AppConfig, bound: str, rate: str, shown: str
) -> None:
    routing = routing_with(config, max_rounding_percent=bound)
    assert str(round_rate(Decimal(rate), routing)) == shown


def test_display_minimums_no_longer_loosen_the_margin(config: AppConfig) -> None:
    # min_significant 1 / rate_decimals 0 used to show 1 USDT = 18 ZAR for 18.53 and
    # charge 4.79 % for a typed 2 %; now they only set a minimum.
    loose = make_config(
        routing={**config.routing.model_dump(), "min_significant": 1, "rate_decimals": 0}
    )
    quotes = {**RAPIRA, **APILAYER}
    for give, gets in loose.directions.items():
        for get in gets:
            route = resolve(loose, give, get)
            market = display_rate(route, quotes)
            q = compute_quote(route, market, Decimal(2), Decimal(100_000), config=loose)
            ratio = Fraction(q.final_rate) / Fraction(market)
            charged = (ratio - 1 if q.client_buys_asset else 1 - ratio) * 100
            assert Fraction(2) <= charged < Fraction("2.015"), (give, get, float(charged))


def test_market_and_final_rates_share_their_decimals(config: AppConfig) -> None:
    route = resolve(config, "RUB", "THB")
    q = compute_quote(route, Decimal("2.6850"), Decimal("0.5"), Decimal(100_000), config=config)
    # 2.6850 × 1.005 = 2.6984250 → 2.6985 (up: the client buys THB); 100000 ÷ 2.6985
    assert (str(q.base_rate), str(q.final_rate), q.result) == (
        "2.6850",
        "2.6985",
        Decimal("37057.62"),
    )


def test_large_margins_keep_min_significant_digits_of_the_final_rate(config: AppConfig) -> None:
    # 85.30 × 0.01 = 0.853: 2 decimals would leave 2 digits, so both rates get 4
    route = resolve(config, "USDT", "RUB")
    q = compute_quote(route, Decimal("85.30"), Decimal(99), Decimal(10), config=config)
    assert (str(q.base_rate), str(q.final_rate), q.result) == (
        "85.3000",
        "0.8530",
        Decimal("8.53"),
    )


def test_round_rate_uses_the_configured_mode() -> None:
    routing = make_config(
        routing={**make_config().routing.model_dump(), "rounding": "ROUND_HALF_EVEN"}
    ).routing
    assert round_rate(Decimal("85.305"), routing) == Decimal("85.30")
    assert round_rate(Decimal("85.305"), routing, "ROUND_CEILING") == Decimal("85.31")


def test_round_rate_rejects_non_positive(config: AppConfig) -> None:
    with pytest.raises(ValueError, match="positive"):
        round_rate(Decimal(0), config.routing)
    with pytest.raises(ValueError, match="max_rounding_percent must be positive"):
        round_rate(Decimal(1), routing_with(config, max_rounding_percent="0"))


def test_display_rate_direct_cross_and_inverted(config: AppConfig) -> None:
    quotes = {**RAPIRA, **APILAYER}
    assert display_rate(resolve(config, "RUB", "USDT"), quotes) == Decimal("85.30")
    cross = display_rate(resolve(config, "USDT", "THB"), quotes)
    assert str(cross) == "31.76908752327746741154562383612663"  # 34 digits, not 28
    inverted = Route(
        "RUB",
        "USDT",
        Pair("RUB", "USDT"),
        False,
        (Leg(USDT_RUB, ("rapira",), "close", invert=True),),
    )
    assert display_rate(inverted, quotes) * Decimal("85.30") == pytest.approx(Decimal(1))


def test_display_rate_reads_the_legs_field() -> None:
    route = Route("RUB", "USDT", USDT_RUB, True, (Leg(USDT_RUB, ("rapira",), "ask", False),))
    assert display_rate(route, RAPIRA) == Decimal("85.40")
    mid = Route("RUB", "USDT", USDT_RUB, True, (Leg(USDT_RUB, ("rapira",), "mid", False),))
    assert display_rate(mid, RAPIRA) == Decimal("85.30")


@pytest.mark.parametrize(
    ("quotes", "message"),
    [
        ({}, "no quote for USDT/RUB from rapira"),
        ({USDT_RUB: Quote(USDT_RUB, Decimal("85.30"))}, "no usable ask price for USDT/RUB"),
        ({USDT_RUB: Quote(USDT_RUB, Decimal("85.30"), ask=Decimal(0))}, "no usable ask price"),
    ],
)
def test_display_rate_refuses_unusable_quotes(quotes: dict[Pair, Quote], message: str) -> None:
    route = Route("RUB", "USDT", USDT_RUB, True, (Leg(USDT_RUB, ("rapira",), "ask", False),))
    with pytest.raises(RatesUnavailableError, match=message):
        display_rate(route, quotes)


@pytest.mark.parametrize(
    ("margin", "amount", "message"),
    [
        ("-1", "100", "margin"),
        ("100", "100", "margin"),
        ("2", "0", "amount"),
        ("2", "0.001", "amount"),  # truncated to RUB's 2 decimals it is 0.00
    ],
)
def test_compute_quote_rejects_bad_arguments(
    config: AppConfig, margin: str, amount: str, message: str
) -> None:
    route = resolve(config, "RUB", "USDT")
    with pytest.raises(ValueError, match=message):
        compute_quote(route, Decimal("85.30"), Decimal(margin), Decimal(amount), config=config)


def test_amount_is_truncated_to_the_giving_currency(config: AppConfig) -> None:
    route = resolve(config, "RUB", "IDR")
    q = compute_quote(route, Decimal("0.005654"), Decimal(0), Decimal("100.999"), config=config)
    assert q.amount == Decimal("100.99")
