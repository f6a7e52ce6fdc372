"""Named step actions: the only Python a flow can reach.

A flow lists action names (``actions: [compute_quote]``); they are looked up in
:data:`ACTIONS`, so YAML cannot call arbitrary code. An action reads and updates the dialog
data (JSON-safe values only: Decimals are stored as strings) and may raise
:class:`ActionFailedError`, which sends the dialog to the step's ``on_error``. The services
it uses come typed (:class:`~engine.flow.services.FlowServices`), with who asked
(:class:`~engine.journal.hook.QuoteOrigin`) when an admin did.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.errors import EngineError
from engine.flow.services import FlowServices
from engine.journal.hook import QuoteOrigin, record_quote
from engine.rates.errors import RatesUnavailableError
from engine.rates.quote import Fixed

log = logging.getLogger("engine.flow")
#: The answer saying which amount was typed: "give" (default) or "receive".
FIXED_KEY = "fixed"


class ActionFailedError(EngineError):
    """An action could not do its work; ``reason`` is a short code shown to templates."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What an action sees: the dialog data, the services wired by the app and, when an
    admin asked (not in a preview), who and where."""

    data: MutableMapping[str, Any]
    services: FlowServices
    origin: QuoteOrigin | None = None


Action = Callable[[ActionContext], Awaitable[None]]


async def compute_quote(ctx: ActionContext) -> None:
    """Quote ``give`` → ``get`` for ``amount`` with ``margin`` %; stores ``quote``."""
    services = ctx.services
    data = ctx.data
    fixed: Fixed = "receive" if data.get(FIXED_KEY) == "receive" else "give"
    try:
        quote, rate = await services.rates.quote(
            str(data["give"]),
            str(data["get"]),
            Decimal(data["margin"]),
            Decimal(data["amount"]),
            fixed=fixed,
        )
    except RatesUnavailableError as exc:
        log.warning("no rate for %s→%s: %s", data.get("give"), data.get("get"), exc)
        raise ActionFailedError("rates_unavailable") from exc
    if services.metrics is not None:
        services.metrics.count_quote(quote.give, quote.get)
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
        "number": services.identity.number(),
        "at": services.identity.clock().isoformat(timespec="seconds"),
    }
    # Queued for the journal: never waits, never raises.
    record_quote(data, services.journal, ctx.origin)


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
