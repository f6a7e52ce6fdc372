"""Routing: which providers quote a direction, and how the displayed pair is formed.

A *direction* is what the admin picks: the client gives ``give`` and gets ``get``. It is
shown as one *display pair* ``ASSET/PRICE`` ("1 USDT = 85.30 RUB"), whose price currency is
the one listed first in ``routing.price_order``. The display pair's rate is either one
routed pair (used as is, or inverted) or two legs through the pivot:
``ASSET/PRICE = (ASSET/PIVOT) ÷ (PRICE/PIVOT)``.

Each leg lists its providers in fallback order (``provider: [apilayer, cbr]``), and knows
which side of that leg's book the client is on, so a rule can price
client purchases at ``ask`` and client sales at ``bid``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from engine.config.models import AppConfig, RoutingRule
from providers.base import Pair, PriceField

Side = Literal["client_buys", "client_sells"]


class NoRouteError(LookupError):
    """No routing rule, direct or through the pivot, serves a pair."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One routed pair fetched from one provider.

    Attributes:
        pair: the pair as the providers serve it (as written in the rule).
        providers: configured provider names in fallback order (the rule's ``provider``).
        field: the price field to read from its quote.
        invert: the route needs ``1 / rate`` of this pair.
    """

    pair: Pair
    providers: tuple[str, ...]
    field: PriceField
    invert: bool

    @property
    def provider(self) -> str:
        """The first choice."""
        return self.providers[0]


@dataclass(frozen=True, slots=True)
class Route:
    """How to price one direction.

    ``rate(display) = leg0 ÷ leg1`` for a pivot route, ``leg0`` for a direct one (after each
    leg's own inversion).
    """

    give: str
    get: str
    display: Pair
    client_buys_asset: bool
    legs: tuple[Leg, ...]

    @property
    def is_cross(self) -> bool:
        return len(self.legs) == 2


def price_order(config: AppConfig) -> list[str]:
    """Currencies by preference as the price side of a pair (first wins)."""
    order = list(config.routing.price_order)
    if config.routing.pivot not in order:
        order.insert(0, config.routing.pivot)
    for kind in ("fiat", "crypto"):
        order += [c.code for c in config.currencies if c.kind == kind and c.code not in order]
    return order


def display_pair(config: AppConfig, a: str, b: str) -> Pair:
    """The pair ``a``/``b`` as it is shown: price currency second."""
    order = price_order(config)
    rank = {code: i for i, code in enumerate(order)}
    a_rank, b_rank = rank.get(a, len(order)), rank.get(b, len(order))
    return Pair(b, a) if a_rank < b_rank else Pair(a, b)


def routed_pairs(rules: Iterable[RoutingRule]) -> dict[Pair, RoutingRule]:
    """Every pair a rule names → that rule (the first rule naming it wins)."""
    table: dict[Pair, RoutingRule] = {}
    for rule in rules:
        for text in rule.pairs:
            table.setdefault(Pair.parse(text), rule)
    return table


def _side_for_leg(pair: Pair, give: str, get: str) -> Side:
    """Is the client buying ``pair.base`` on this leg?"""
    if pair.base == get or pair.quote == give:
        return "client_buys"
    return "client_sells"


def _leg(table: dict[Pair, RoutingRule], want: Pair, give: str, get: str) -> Leg | None:
    for pair, invert in ((want, False), (want.inverse(), True)):
        rule = table.get(pair)
        if rule is None:
            continue
        side = _side_for_leg(pair, give, get)
        field = rule.price if isinstance(rule.price, str) else getattr(rule.price, side)
        return Leg(pair, rule.providers, field, invert)
    return None


def resolve(config: AppConfig, give: str, get: str) -> Route:
    """The route for the direction ``give`` → ``get``.

    Raises:
        NoRouteError: neither a rule for the pair nor both legs through the pivot exist.
    """
    table = routed_pairs(config.routing.rules)
    display = display_pair(config, give, get)
    client_buys = give == display.quote
    direct = _leg(table, display, give, get)
    if direct is not None:
        return Route(give, get, display, client_buys, (direct,))
    pivot = config.routing.pivot
    if pivot not in (give, get):
        top = _leg(table, Pair(display.base, pivot), give, get)
        bottom = _leg(table, Pair(display.quote, pivot), give, get)
        if top is not None and bottom is not None:
            return Route(give, get, display, client_buys, (top, bottom))
    raise NoRouteError(f"no routing rule serves {display} directly or through {pivot}")
