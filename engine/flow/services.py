"""What a flow's actions may use: :class:`FlowServices`, one typed object per dispatcher.

The composition root (:func:`engine.app.create_dispatcher`) builds one and puts it into the
dispatcher's workflow data under :data:`SERVICES_KEY`; aiogram's dependency injection hands
it to handlers that name it (``flow_services: FlowServices``), and the dialog builder reads
it from the dialog manager's middleware data. An action sees this object and the
:class:`~engine.journal.hook.QuoteOrigin` of the update (who asked, in which chat), never
aiogram's whole middleware data.

:class:`QuoteIdentity` is when a quote is made and its number: live by default; snapshot
tests and the preview kit give fixed ones, so a rendered card never holds the time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from engine.journal.hook import JournalRecorderProtocol
from engine.rates.quote_number import new_quote_number
from engine.rates.service import RateService

#: The key of the one :class:`FlowServices` in the dispatcher's workflow data.
SERVICES_KEY = "flow_services"


class QuoteCounterProtocol(Protocol):
    """Counts the quotes made (:class:`engine.metrics.BotMetrics` does)."""

    def count_quote(self, give: str, get: str) -> None: ...


@dataclass(frozen=True, slots=True)
class QuoteIdentity:
    """When a quote is made (UTC) and the number it gets."""

    clock: Callable[[], datetime] = field(default=partial(datetime.now, UTC))
    number: Callable[[], str] = new_quote_number


@dataclass(frozen=True, slots=True)
class FlowServices:
    """The services a flow's actions use.

    Attributes:
        rates: quotes ``give`` → ``get`` (``compute_quote``).
        metrics: counts each quote; ``None`` where nothing is measured (previews, tests).
        journal: records each quote (queued, never waits); ``None``: nothing is recorded.
        identity: a quote's time and number.
    """

    rates: RateService
    metrics: QuoteCounterProtocol | None = None
    journal: JournalRecorderProtocol | None = None
    identity: QuoteIdentity = field(default_factory=QuoteIdentity)


def services_in(middleware_data: Mapping[str, Any]) -> FlowServices:
    """The dispatcher's :class:`FlowServices` from aiogram's middleware data.

    Raises:
        TypeError: the dispatcher was not built by :func:`engine.app.create_dispatcher`.
    """
    services = middleware_data.get(SERVICES_KEY)
    if not isinstance(services, FlowServices):
        raise TypeError(f"no FlowServices under {SERVICES_KEY!r} in the dispatcher's data")
    return services
