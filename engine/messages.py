"""Bot messages outside the flows: /help, /rates, the refusal, the failure notice.

Pure: builds template contexts from config and rates, so ``crypto-helper check`` renders and
validates these messages exactly as the bot sends them.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from engine.config.models import AppConfig
from engine.flow.context import currencies_context
from engine.rates.quote import round_rate
from engine.rates.service import DirectionRate

HELP, RATES, REFUSED, FAILURE = "help", "rates", "refused", "failure"
BOT_TEMPLATES = (HELP, RATES, REFUSED, FAILURE)


def base_context(config: AppConfig, locale: str) -> dict[str, Any]:
    return {"currencies": currencies_context(config, locale), "locale": locale}


def help_context(config: AppConfig, locale: str) -> dict[str, Any]:
    """What /help tells: the commands and where rates come from, read from config."""
    return {
        **base_context(config, locale),
        "commands": [
            {"command": c.command, "description": c.description.get(locale, "")}
            for c in config.bot.commands
        ],
        "rules": [
            {"provider": r.providers[0], "providers": list(r.providers), "pairs": list(r.pairs)}
            for r in config.routing.rules
        ],
        "pivot": config.routing.pivot,
        "default_margin": config.quote.default_margin,
        "valid_minutes": config.quote.valid_minutes,
        # the words a one-line quote understands for each currency, from config.yaml
        "aliases": [
            {"code": c.code, "words": [a for a in c.aliases if a.casefold() != c.code.casefold()]}
            for c in config.currencies
            if c.aliases
        ],
    }


def rates_context(config: AppConfig, locale: str, rows: Iterable[DirectionRate]) -> dict[str, Any]:
    """/rates: each displayed pair once (RUB→USDT and USDT→RUB share USDT/RUB), market rate,
    source and age; ``rate`` is None when the pair is unavailable. ``held`` lists prices the
    jump guard holds back, ``disagreements`` sources of one pair that disagree."""

    def shown(rate: Decimal) -> Decimal:
        return round_rate(rate, config.routing)

    pairs: dict[str, dict[str, Any]] = {}
    held: dict[tuple[str, str], dict[str, Any]] = {}
    gaps: dict[str, dict[str, Any]] = {}
    for row in rows:
        for hold in row.rate.held if row.rate else ():
            held[(hold.provider, str(hold.pair))] = {
                "provider": hold.provider,
                "asset": hold.pair.base,
                "price": hold.pair.quote,
                "accepted": shown(hold.accepted),
                "held": shown(hold.candidate.close),
                "jump_percent": round(hold.jump_percent, 1),
            }
        for gap in row.rate.disagreements if row.rate else ():
            gaps[str(gap.pair)] = {
                "asset": gap.pair.base,
                "price": gap.pair.quote,
                "first": gap.first,
                "first_rate": shown(gap.first_close),
                "second": gap.second,
                "second_rate": shown(gap.second_close),
                "percent": round(gap.percent, 1),
            }
        key = str(row.display)
        if key in pairs and pairs[key]["rate"] is not None:
            continue
        pairs[key] = {
            "asset": row.display.base,
            "price": row.display.quote,
            "rate": row.rounded,
            "sources": list(row.rate.sources) if row.rate else [],
            "age_seconds": round(row.rate.age_seconds) if row.rate else 0,
            "stale": row.rate.stale if row.rate else False,
        }
    return {
        **base_context(config, locale),
        "rows": list(pairs.values()),
        "held": list(held.values()),
        "disagreements": list(gaps.values()),
    }


def rates_warnings_sample(context: dict[str, Any]) -> dict[str, Any]:
    """``context`` of /rates with a held jump and a disagreement made from its first rate,
    so ``check`` and ``preview`` render those parts of the template too."""
    row = next((r for r in context["rows"] if r["rate"] is not None), None)
    if row is None:
        return context
    rate = Decimal(row["rate"])
    pair = {"asset": row["asset"], "price": row["price"]}
    source = row["sources"][0] if row["sources"] else "source"
    held = {
        **pair,
        "provider": source,
        "accepted": rate,
        "held": (rate * Decimal("1.5")).quantize(rate),
        "jump_percent": Decimal("50.0"),
    }
    gap = {
        **pair,
        "first": source,
        "first_rate": rate,
        "second": "fallback",
        "second_rate": (rate * Decimal("1.04")).quantize(rate),
        "percent": Decimal("4.0"),
    }
    return {**context, "held": [held], "disagreements": [gap]}
