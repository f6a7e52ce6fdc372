"""Properties of the quote math, checked against exact rational arithmetic.

The margin charged is the margin typed: for every direction of the shipped config, every
market rate from 1e-6 to 1e6 and every amount large enough that the result's last digit
does not matter, the desk never charges less than typed and rounding adds less than
``routing.max_rounding_percent`` percentage points.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import cache
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st

from engine.config import load_config
from engine.config.models import ROUNDING_MODES, AppConfig
from engine.rates.quote import QuoteResult, compute_quote, round_rate
from engine.rates.routing import Route, resolve
from providers.base import Pair, ProviderConfig

SHIPPED = Path(__file__).resolve().parents[3] / "config.yaml"


@cache
def config(
    give_places: int,
    get_places: int,
    rate_decimals: int,
    min_sig: int,
    rounding: str,
    bound: str = "0.015",
) -> AppConfig:
    currency = {"kind": "fiat", "name": {"en": "x"}, "min_amount": "0.00000001"}
    return AppConfig.model_validate(
        {
            "currencies": [
                {**currency, "code": "GIVE", "decimals": give_places},
                {**currency, "code": "GET", "decimals": get_places},
            ],
            "directions": {"GIVE": ["GET"]},
            "routing": {
                "rules": [{"pairs": ["GET/GIVE"], "provider": "p"}],
                "rate_decimals": rate_decimals,
                "min_significant": min_sig,
                "rounding": rounding,
                "max_rounding_percent": bound,
            },
            "providers": {"p": ProviderConfig(kind="static")},
        }
    )


configs = st.builds(
    config,
    st.sampled_from([0, 2, 8]),
    st.sampled_from([0, 2, 8]),
    st.sampled_from([0, 2, 4]),
    st.sampled_from([1, 4, 8]),
    st.sampled_from(ROUNDING_MODES),
    st.sampled_from(["0.0001", "0.015", "1"]),
)
# Market rates from 1e-9 to 1e7 at up to 12 significant digits (full precision legs).
rates = st.builds(
    lambda m, e: Decimal(m).scaleb(e), st.integers(1, 10**12 - 1), st.integers(-20, 0)
).filter(lambda r: Decimal("1e-9") <= r <= Decimal("1e7"))
tiny_rates = st.builds(
    lambda m, e: Decimal(m).scaleb(e), st.integers(1, 10**6), st.integers(-14, -7)
)
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
    else:  # client gives asset, gets price currency
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
    assert places_of(q.base_rate) == places_of(q.final_rate)
    over = abs(final - exact) / Fraction(market)
    assert over < Fraction(cfg.routing.max_rounding_percent) / 100


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
    routing = cfg.routing
    shown = round_rate(market, routing)
    places = places_of(shown)
    assert places >= routing.rate_decimals
    assert significant(shown) >= routing.min_significant
    # rounded (any configured mode), not otherwise changed: < 1 unit of the last place shown
    unit = Fraction(1, 10**places)
    assert abs(Fraction(shown) - Fraction(market)) < unit
    # one unit of the last place is within the bound, and no place more than needed
    tolerance = Fraction(market) * Fraction(routing.max_rounding_percent) / 100
    assert unit <= tolerance
    minimums = max(routing.rate_decimals, routing.min_significant - 1 - market.adjusted())
    assert places == minimums or 10 * unit > tolerance


# --- every direction of the shipped config.yaml -----------------------------------------


@cache
def shipped() -> AppConfig:
    return load_config(SHIPPED)


def shipped_routes() -> list[Route]:
    cfg = shipped()
    return [resolve(cfg, give, get) for give, gets in cfg.directions.items() for get in gets]


def _log_uniform(k: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 34
        return Decimal(10) ** Decimal(k).scaleb(-9)


def _edge(k: int) -> Decimal:
    # market × 0.015 % lands on a power of ten: the bound's decimals change right here
    with localcontext() as ctx:
        ctx.prec = 34
        return Decimal(1).scaleb(k) / Decimal("0.00015")


# 1e-6 … 1e6: log-uniform at 34 digits, as typed (few digits), and next to the edges
market_rates = st.one_of(
    st.integers(-6 * 10**9, 6 * 10**9).map(_log_uniform),
    st.builds(
        lambda m, e: Decimal(m).scaleb(e), st.integers(1, 99_999), st.integers(-10, 6)
    ).filter(lambda r: Decimal("1e-6") <= r <= Decimal("1e6")),
    st.builds(
        lambda k, ulp: _edge(k) + Decimal(ulp).scaleb(_edge(k).adjusted() - 33),
        st.integers(-9, 1),
        st.integers(-1, 1),
    ),
)
typed_margins = st.decimals(min_value=0, max_value=Decimal("99.99"), places=2)
# how many units of its last digit the result is: large enough that flooring it is noise
result_units = st.integers(10**7, 10**13)


def charged(q: QuoteResult, market: Decimal, rate: Fraction) -> Fraction:
    """The margin (a fraction, not percent) a deal at ``rate`` charges against ``market``."""
    ratio = rate / Fraction(market)
    return ratio - 1 if q.client_buys_asset else 1 - ratio


def quote_for(route: Route, market: Decimal, margin: Decimal, units: int) -> QuoteResult:
    cfg = shipped()
    unit = Decimal(1).scaleb(-cfg.currency(route.get).decimals)
    with localcontext() as ctx:
        ctx.prec = 60
        target = units * unit
        amount = target * market if route.client_buys_asset else target / market
    amount = max(amount, Decimal(1).scaleb(-cfg.currency(route.give).decimals))
    return compute_quote(route, market, margin, amount, config=cfg)


@given(st.sampled_from(shipped_routes()), market_rates, typed_margins, result_units)
def test_shipped_directions_charge_the_typed_margin(
    route: Route, market: Decimal, margin: Decimal, units: int
) -> None:
    cfg = shipped()
    q = quote_for(route, market, margin, units)
    unit = Fraction(1, 10 ** cfg.currency(route.get).decimals)
    given_, got = Fraction(q.amount), Fraction(q.result)
    assume(got >= 10**6 * unit)
    typed = Fraction(margin) / 100
    bound = Fraction(cfg.routing.max_rounding_percent) / 100
    # the shown final rate: never below the typed margin, less than the bound above it
    by_rate = charged(q, market, Fraction(q.final_rate))
    assert typed <= by_rate < typed + bound
    # the deal itself (result floored): the desk never loses, and flooring adds at most one
    # unit of the result's last digit, here under a millionth of it
    effective = given_ / got if q.client_buys_asset else got / given_
    paid = charged(q, market, effective)
    assert paid >= typed
    flooring = (
        Fraction(q.final_rate) / Fraction(market) * unit / got
        if q.client_buys_asset
        else unit / (given_ * Fraction(market))
    )
    assert paid < typed + bound + flooring
    assert flooring < Fraction(2, 10**6)


@given(st.sampled_from(shipped_routes()), market_rates, typed_margins, result_units)
def test_shipped_results_are_reproducible_from_the_shown_rate(
    route: Route, market: Decimal, margin: Decimal, units: int
) -> None:
    cfg = shipped()
    q = quote_for(route, market, margin, units)
    shown = Fraction(Decimal(str(q.final_rate)))  # what the card says, read back
    raw = Fraction(q.amount) / shown if q.client_buys_asset else Fraction(q.amount) * shown
    assert Fraction(q.result) == floor_to(raw, cfg.currency(route.get).decimals)
    # the card reads consistently: both rates with the same decimals, the display minimums
    places = places_of(q.final_rate)
    assert places_of(q.base_rate) == places >= cfg.routing.rate_decimals
    assert significant(q.final_rate) >= cfg.routing.min_significant


# --- "the client receives N" ------------------------------------------------------------

receive_amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e10"), places=8)


@given(configs, rates, margins, receive_amounts, st.booleans())
def test_receive_mode_the_computed_give_amount_quoted_forward_yields_at_least_n(
    cfg: AppConfig, market: Decimal, margin: Decimal, n: Decimal, buys: bool
) -> None:
    get_places = cfg.currency("GET").decimals
    n = n.quantize(Decimal(1).scaleb(-get_places), rounding="ROUND_DOWN")
    assume(n > 0)
    q = compute_quote(route(buys), market, margin, n, config=cfg, fixed="receive")
    assert q.fixed == "receive" and q.result == n
    assert places_of(q.amount) == cfg.currency("GIVE").decimals
    forward = compute_quote(route(buys), market, margin, q.amount, config=cfg)
    assert forward.final_rate == q.final_rate
    assert forward.result >= n
    # rounded up by less than one unit of the giving currency: never more than needed
    final, unit = Fraction(q.final_rate), Fraction(1, 10 ** cfg.currency("GIVE").decimals)
    needed = Fraction(n) * final if buys else Fraction(n) / final
    assert needed <= Fraction(q.amount) < needed + unit


@given(st.sampled_from(shipped_routes()), market_rates, typed_margins, result_units)
def test_receive_mode_shipped_directions_never_lose(
    route_: Route, market: Decimal, margin: Decimal, units: int
) -> None:
    cfg = shipped()
    n = Decimal(units).scaleb(-cfg.currency(route_.get).decimals)
    q = compute_quote(route_, market, margin, n, config=cfg, fixed="receive")
    m, given_, got = Fraction(market), Fraction(q.amount), Fraction(q.result)
    assert got == Fraction(n)
    if route_.client_buys_asset:
        assert got * m <= given_
    else:
        assert got <= given_ * m
    assert compute_quote(route_, market, margin, q.amount, config=cfg).result >= n
