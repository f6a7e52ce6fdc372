"""Named step actions: the only Python a flow can reach.

A flow lists action names (``actions: [compute_quote]``); they are looked up in
:data:`ACTIONS`, so YAML cannot call arbitrary code. An action reads and updates the dialog
data (JSON-safe values only: Decimals are stored as strings) and may raise
:class:`ActionFailedError`, which sends the dialog to the step's ``on_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from engine.errors import EngineError
from engine.journal.hook import record_quote
from engine.rates.errors import RatesUnavailableError
from engine.rates.quote import Fixed
from engine.rates.quote_number import new_quote_number
from engine.rates.service import RateService

log = logging.getLogger("engine.flow")
#: The answer saying which amount was typed: "give" (default) or "receive".
FIXED_KEY = "fixed"
# When a quote is made and its number: module-level so that snapshot tests can fix them.
quote_clock: Callable[[], datetime] = partial(datetime.now, UTC)
quote_number: Callable[[], str] = new_quote_number


class ActionFailedError(EngineError):
    """An action could not do its work; ``reason`` is a short code shown to templates."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What an action sees: the dialog data and the services wired by the app."""

    data: MutableMapping[str, Any]
    services: Mapping[str, Any]


Action = Callable[[ActionContext], Awaitable[None]]


async def compute_quote(ctx: ActionContext) -> None:
    """Quote ``give`` → ``get`` for ``amount`` with ``margin`` %; stores ``quote``."""
    rates: RateService = ctx.services["rates"]
    data = ctx.data
    fixed: Fixed = "receive" if data.get(FIXED_KEY) == "receive" else "give"
    try:
        quote, rate = await rates.quote(
            str(data["give"]),
            str(data["get"]),
            Decimal(data["margin"]),
            Decimal(data["amount"]),
            fixed=fixed,
        )
    except RatesUnavailableError as exc:
        log.warning("no rate for %s→%s: %s", data.get("give"), data.get("get"), exc)
        raise ActionFailedError("rates_unavailable") from exc
    metrics = ctx.services.get("metrics")
    if metrics is not None:
        metrics.count_quote(quote.give, quote.get)
    data["quote"] = {
        "asset": quote.display.base,
        "price": quote.display.quote,
        "client_buys_asset": quote.client_buys_asset,
        "base_rate": str(quote.base_rate),
        "margin": str(quote.margin),
        "final_rate": str(quote.final_rate),
        "amount": str(quote.amount),
        "result": str(quote.result),
        "sources": list(rate.sources),
        "age_seconds": round(rate.age_seconds),
        "stale": rate.stale,
        "held": bool(rate.held),  # a newer price awaits confirmation: this is the last good one
        "fixed": quote.fixed,  # which amount the admin typed: what the client gives or gets
        "number": quote_number(),
        "at": quote_clock().isoformat(timespec="seconds"),
    }
    record_quote(data, ctx.services)  # queued for the journal: never waits, never raises


async def carry_amount(ctx: ActionContext) -> None:
    """After ``give`` and ``get`` swapped places (the swap button): the amount typed becomes
    what the currency now on the typed side had on the last card, so the reversed quote is
    for the same money (100 000 RUB → 1 149.42 USDT becomes 1 149.42 USDT → RUB)."""
    quote = ctx.data.get("quote")
    if not isinstance(quote, Mapping):
        return  # nothing quoted yet: the amount stays as typed
    receive = ctx.data.get(FIXED_KEY) == "receive"
    # Typing what the client gives: the new giving currency is the one the client got.
    ctx.data["amount"] = str(quote["amount"] if receive else quote["result"])


ACTIONS: Mapping[str, Action] = {
    "compute_quote": compute_quote,
    "carry_amount": carry_amount,
}
