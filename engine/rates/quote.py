"""Quote math: compose the display rate, apply the margin, round for display. Decimal only.

A rate is shown as "1 ASSET = r PRICE" for the route's display pair. The margin always
favours the desk:

* the client gives the price currency (buys the asset):
  ``final = market × (1 + m/100)``, ``result = amount ÷ final``;
* the client gives the asset: ``final = market × (1 − m/100)``, ``result = amount × final``.

The margin charged is the margin typed. The client is charged
``shown_final / market − 1`` (buying) or ``1 − shown_final / market`` (selling), and that is
never below the typed margin and less than ``routing.max_rounding_percent`` (0.015)
percentage points above it, at any rate magnitude. Flooring the result adds at most one
unit of its last digit on top, which is negligible once the result is large.

Rounding rules (the desk is never disadvantaged by rounding):

* a rate is shown with the most decimals of: ``routing.rate_decimals``, enough for
  ``routing.min_significant`` significant digits, and enough that one unit of the last
  place is at most ``max_rounding_percent`` percent of the market rate
  (:meth:`~engine.config.models.RoutingConfig.bound_places`): 85.30 RUB keeps 2 decimals,
  31.769 THB gets 3, 3.8441 AED 4, 0.0056540 RUB per IDR 7;
* the market rate (``base_rate``) and the final rate of one quote are shown with the same
  number of decimals, so the card reads consistently; the market rate is informative
  only and uses ``routing.rounding``;
* the final rate is computed from the full-precision market rate and rounded *towards the
  desk*: up when the client buys the asset, down when the client sells it; one unit of its
  last place is the most it moves, hence the bound above;
* the result is computed from the final rate *as displayed* and always rounded down to the
  receiving currency's decimals, so a calculator reproduces it and the client never gets
  a fraction more than the shown rate gives;
* the amount given is truncated to the giving currency's decimals (validated upstream).

"The client receives N" (``fixed="receive"``): ``amount`` is what the client receives. The
final rate is the same; what the client must give is computed from it as displayed and
rounded **up** to the giving currency's decimals (``N × final`` when buying the asset,
``N ÷ final`` when selling it), so quoting that amount forward yields at least N: the
desk never loses. The result is N itself, at the receiving currency's decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal, localcontext
from typing import Literal

from engine.config.models import AppConfig, RoutingConfig
from engine.rates.errors import RatesUnavailableError
from engine.rates.routing import Leg, Route
from providers.base import Pair, Quote

# Enough digits that no product or quotient below is rounded before the final quantize:
# amounts have ≤ 11 integer + 8 decimal digits, rates ≤ 34 digits.
_PREC = 60
_HUNDRED = Decimal(100)
#: Which side of a deal the admin typed: what the client gives, or what they receive.
Fixed = Literal["give", "receive"]
FIXED_SIDES: tuple[Fixed, ...] = ("give", "receive")


@dataclass(frozen=True, slots=True)
class QuoteResult:
    """One priced deal, every number as shown to the admin.

    Attributes:
        give: currency the client gives.
        get: currency the client receives.
        display: pair the rates are shown for ("1 ASSET = rate PRICE").
        client_buys_asset: the client gives ``display.quote``.
        base_rate: market rate, rounded for display with ``routing.rounding`` at the
            final rate's decimals.
        margin: margin in percent.
        final_rate: the rate the deal is made at, rounded for display towards the desk,
            with enough decimals that it charges at most ``max_rounding_percent`` more.
        amount: amount given, at the giving currency's decimals.
        result: amount received, at the receiving currency's decimals.
        fixed: which of the two the admin typed (``receive``: ``amount`` was computed
            from ``result``, rounded up).
    """

    give: str
    get: str
    display: Pair
    client_buys_asset: bool
    base_rate: Decimal
    margin: Decimal
    final_rate: Decimal
    amount: Decimal
    result: Decimal
    fixed: Fixed = "give"


def _display_places(rate: Decimal, routing: RoutingConfig) -> int:
    """Decimals for ≥ ``rate_decimals`` and ≥ ``min_significant`` significant digits."""
    return max(routing.rate_decimals, routing.min_significant - 1 - rate.adjusted())


def rate_places(rate: Decimal, routing: RoutingConfig) -> int:
    """Decimals to show market rate ``rate`` with: the display minimums, and enough that
    rounding moves a rate derived from it by at most ``max_rounding_percent`` of it.

    Raises:
        ValueError: ``rate`` or ``routing.max_rounding_percent`` is not positive.
    """
    if rate <= 0:
        raise ValueError(f"a rate must be positive, got {rate}")
    return max(_display_places(rate, routing), routing.bound_places(rate))


def _quantize(rate: Decimal, places: int, rounding: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _PREC
        return rate.quantize(Decimal(1).scaleb(-places), rounding=rounding)


def round_rate(rate: Decimal, routing: RoutingConfig, rounding: str | None = None) -> Decimal:
    """Market rate ``rate`` rounded for display (``routing.rounding`` unless ``rounding``
    is given) at :func:`rate_places`, as ``/rates`` and the quote card show it.

    Raises:
        ValueError: ``rate`` is not positive.
    """
    return _quantize(rate, rate_places(rate, routing), rounding or routing.rounding)


def compute_quote(
    route: Route,
    market_rate: Decimal,
    margin_percent: Decimal,
    amount: Decimal,
    *,
    config: AppConfig,
    fixed: Fixed = "give",
) -> QuoteResult:
    """Price ``amount`` of ``route.give`` at ``market_rate`` (display pair) plus the margin;
    with ``fixed="receive"``, ``amount`` is what the client receives of ``route.get``.

    Raises:
        ValueError: a non-positive rate or amount, or a margin outside ``[0, 100)``.
    """
    if not Decimal(0) <= margin_percent < _HUNDRED:
        raise ValueError(f"margin must be in [0, 100) percent, got {margin_percent}")
    routing = config.routing
    give_places = config.currency(route.give).decimals
    get_places = config.currency(route.get).decimals
    buys = route.client_buys_asset
    with localcontext() as ctx:
        ctx.prec = _PREC
        typed_places = give_places if fixed == "give" else get_places
        typed = amount.quantize(Decimal(1).scaleb(-typed_places), rounding=ROUND_DOWN)
        if typed <= 0:
            raise ValueError(f"amount must be positive, got {amount}")
        factor = 1 + margin_percent / _HUNDRED if buys else 1 - margin_percent / _HUNDRED
        exact = market_rate * factor
        # The bound is relative to the market rate, so its places come from it; the
        # final rate's own magnitude only matters for min_significant (large margins).
        places = max(rate_places(market_rate, routing), _display_places(exact, routing))
        final = _quantize(exact, places, ROUND_CEILING if buys else ROUND_FLOOR)
        if fixed == "give":
            given = typed
            # Directed context rounding keeps the quotient below the true value, so the
            # floor below is the exact floor of amount ÷ final.
            ctx.rounding = ROUND_FLOOR
            raw = given / final if buys else given * final
            result = raw.quantize(Decimal(1).scaleb(-get_places), rounding=ROUND_FLOOR)
        else:
            result = typed
            # Rounded up, and the context rounds up too: the exact ceiling of N × final
            # (or N ÷ final), so the client always gives enough for N.
            ctx.rounding = ROUND_CEILING
            raw = result * final if buys else result / final
            given = raw.quantize(Decimal(1).scaleb(-give_places), rounding=ROUND_CEILING)
    return QuoteResult(
        give=route.give,
        get=route.get,
        display=route.display,
        client_buys_asset=buys,
        base_rate=_quantize(market_rate, places, routing.rounding),
        margin=margin_percent,
        final_rate=final,
        amount=given,
        result=result,
        fixed=fixed,
    )


def _leg_value(leg: Leg, quotes: Mapping[Pair, Quote]) -> Decimal:
    quote = quotes.get(leg.pair)
    if quote is None:
        raise RatesUnavailableError(f"no quote for {leg.pair} from {leg.provider}")
    price = quote.price(leg.field)
    if price is None or not price.is_finite() or price <= 0:
        raise RatesUnavailableError(
            f"{leg.provider} gave no usable {leg.field} price for {leg.pair}: {price}"
        )
    return 1 / price if leg.invert else +price


def display_rate(route: Route, quotes: Mapping[Pair, Quote]) -> Decimal:
    """The display pair's market rate from its legs' quotes, at full precision.

    Raises:
        RatesUnavailableError: a leg's quote is missing or has no usable price.
    """
    with localcontext() as ctx:
        ctx.prec = 34
        values = [_leg_value(leg, quotes) for leg in route.legs]
        return values[0] if len(values) == 1 else values[0] / values[1]
