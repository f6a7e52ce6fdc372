"""Bot messages outside the flows: /help, /rates, the refusal, the failure notice.

Pure: builds template contexts from config and rates, so ``crypto-helper check`` renders and
validates these messages exactly as the bot sends them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.config.models import AppConfig
from engine.flow.context import currencies_context
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
        "rules": [{"provider": r.provider, "pairs": list(r.pairs)} for r in config.routing.rules],
        "pivot": config.routing.pivot,
    }


def rates_context(config: AppConfig, locale: str, rows: Iterable[DirectionRate]) -> dict[str, Any]:
    """/rates: each displayed pair once (RUB→USDT and USDT→RUB share USDT/RUB), market rate,
    source and age; ``rate`` is None when the pair is unavailable."""
    pairs: dict[str, dict[str, Any]] = {}
    for row in rows:
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
    return {**base_context(config, locale), "rows": list(pairs.values())}
