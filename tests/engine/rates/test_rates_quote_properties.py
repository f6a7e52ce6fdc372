"""Properties of the quote math, checked against exact rational arithmetic."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from functools import cache

from hypothesis import given
from hypothesis import strategies as st

from engine.config.models import ROUNDING_MODES, AppConfig
from engine.rates.quote import compute_quote, round_rate
from engine.rates.routing import Route
from providers.base import Pair, ProviderConfig


@cache
def config(give_places: int, get_places: int, rate_decimals: int, min_sig: int,
           rounding: str) -> AppConfig:
    currency = {"kind": "fiat", "name": {"en": "x"}, "min_amount": "0.00000001"}
    return AppConfig.model_validate({
        "currencies": [{**currency, "code": "GIVE", "decimals": give_places},
                       {**currency, "code": "GET", "decimals": get_places}],
        "directions": {"GIVE": ["GET"]},
        "routing": {"rules": [{"pairs": ["GET/GIVE"], "provider": "p"}],
                    "rate_decimals": rate_decimals, "min_significant": min_sig,
                    "rounding": rounding},
        "providers": {"p": ProviderConfig(kind="static")},
    })


configs = st.builds(
    config,
    st.sampled_from([0, 2, 8]), st.sampled_from([0, 2, 8]), st.sampled_from([0, 2, 4]),
    st.sampled_from([1, 4, 8]), st.sampled_from(ROUNDING_MODES),
)
# Market rates from 1e-9 to 1e7 at up to 12 significant digits (full precision legs).
rates = st.builds(lambda m, e: Decimal(m).scaleb(e),
                  st.integers(1, 10**12 - 1), st.integers(-20, 0)).filter(
    lambda r: Decimal("1e-9") <= r <= Decimal("1e7"))
tiny_rates = st.builds(lambda m, e: Decimal(m).scaleb(e),
                       st.integers(1, 10**6), st.integers(-14, -7))
margins = st.decimals(min_value=0, max_value=Decimal("99.99"), places=2)
amounts = st.decimals(min_value=1, max_value=Decimal("1e10"), places=8)


def route(buys: bool) -> Route:
    display = Pair("GET", "GIVE") if buys else Pair("GIVE", "GET")
    return Route("GIVE", "GET", display, buys, ())


def floor_to(value: Fraction, places: int) -> Fraction:
    return Fraction(math.floor(value * 10**places), 10**places)


def significant(d: Decimal) -> int:
    return len(d.as_tuple().digits)


def places_of(d: Decimal) -> int:
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent


@given(configs, rates, margins, amounts, st.booleans())
def test_desk_never_receives_less_than_market_value(
    cfg: AppConfig, market: Decimal, margin: Decimal, amount: Decimal, buys: bool
) -> None:
    q = compute_quote(route(buys), market, margin, amount, config=cfg)
    m, given_, got = Fraction(market), Fraction(q.amount), Fraction(q.result)
    if buys:  # client gives price currency, gets asset: asset valued at market
        assert got * m <= given_
    else:     # client gives asset, gets price currency
        assert got <= given_ * m


@given(configs, rates, margins, amounts, st.booleans())
def test_displayed_numbers_are_self_consistent(
    cfg: AppConfig, market: Decimal, margin: Decimal, amount: Decimal, buys: bool
) -> None:
    q = compute_quote(route(buys), market, margin, amount, config=cfg)
    places = cfg.currency("GET").decimals
    final = Fraction(q.final_rate)
    raw = Fraction(q.amount) / final if buys else Fraction(q.amount) * final
    assert Fraction(q.result) == floor_to(raw, places)
    assert places_of(q.result) == places
    assert places_of(q.amount) == cfg.currency("GIVE").decimals
    # final is the margin-adjusted market rate, rounded towards the desk by < 1 unit shown
    exact = Fraction(market) * (1 + Fraction(margin) / 100 if buys else 1 - Fraction(margin) / 100)
    unit = Fraction(1, 10 ** places_of(q.final_rate))
    if buys:
        assert exact <= final < exact + unit
    else:
        assert exact - unit < final <= exact


@given(configs, tiny_rates, margins, st.booleans())
def test_tiny_rates_keep_min_significant_digits(
    cfg: AppConfig, market: Decimal, margin: Decimal, buys: bool
) -> None:
    q = compute_quote(route(buys), market, margin, Decimal(10**9), config=cfg)
    assert q.final_rate > 0
    assert significant(q.base_rate) >= cfg.routing.min_significant
    assert significant(q.final_rate) >= cfg.routing.min_significant


@given(configs, rates)
def test_displayed_rates_keep_rate_decimals_and_significant_digits(
    cfg: AppConfig, market: Decimal
) -> None:
    shown = round_rate(market, cfg.routing)
    assert places_of(shown) >= cfg.routing.rate_decimals
    assert significant(shown) >= cfg.routing.min_significant
    # rounded (any configured mode), not otherwise changed: < 1 unit of the last place shown
    assert abs(Fraction(shown) - Fraction(market)) < Fraction(1, 10 ** places_of(shown))
