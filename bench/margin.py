"""The margin each direction really charges at config.yaml's static demo rates.

Not a test: prints, for every direction, the rates a card would show and the margin the
client pays, from the shown final rate alone and from the floored result too, against the
market rate at full precision (see ``engine/rates/quote.py``). Issue 8: the margin charged
is the margin typed, within ``routing.max_rounding_percent``.

Run: ``python -m bench.margin [--margin 0.5] [--amount 100000] [--config config.yaml]``.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from engine.config import load_config
from engine.rates.quote import QuoteResult, compute_quote, display_rate
from engine.rates.routing import resolve
from providers.base import Pair
from providers.static import StaticConfig, StaticProvider


def _percent(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) * 100 / Decimal(value.denominator)).quantize(
        Decimal("0.0001")
    )


def charged(q: QuoteResult, market: Decimal) -> tuple[Decimal, Decimal]:
    """Percent charged by the shown final rate, and by the deal (result floored)."""
    m, given, got = Fraction(market), Fraction(q.amount), Fraction(q.result)
    ratio = Fraction(q.final_rate) / m
    if q.client_buys_asset:
        return _percent(ratio - 1), _percent(given / (got * m) - 1)
    return _percent(1 - ratio), _percent(1 - got / (given * m))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--margin", type=Decimal, default=Decimal("0.5"))
    parser.add_argument("--amount", type=Decimal, default=Decimal(100_000))
    args = parser.parse_args()
    config = load_config(args.config).offline()
    static = config.providers["static"]
    assert isinstance(static, StaticConfig)
    provider = StaticProvider("static", static)
    quotes = asyncio.run(provider.fetch([Pair.parse(key) for key in static.rates]))
    bound = config.routing.max_rounding_percent
    print(f"typed margin {args.margin} %, {args.amount} of the giving currency, bound {bound}")
    print("| direction | market | final | result | charged % (rate) | charged % (deal) |")
    print("|---|---|---|---|---|---|")
    for give, gets in config.directions.items():
        for get in gets:
            route = resolve(config, give, get)
            market = display_rate(route, quotes)
            q = compute_quote(route, market, args.margin, args.amount, config=config)
            by_rate, by_deal = charged(q, market)
            print(
                f"| {give}→{get} | 1 {route.display.base} = {q.base_rate} {route.display.quote} "
                f"| {q.final_rate} | {q.result} {get} | {by_rate} | {by_deal} |"
            )


if __name__ == "__main__":
    main()
