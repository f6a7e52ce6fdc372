"""The update feed: one dispatcher takes the updates and hands each to the current set's.

aiogram-dialog binds dialogs to a router when the dispatcher is built, so new definitions
need a new dispatcher. :class:`UpdateFeed` is the one polling (and the one the webhook
handler feeds): an aiogram :class:`~aiogram.Dispatcher` with nothing of its own (no FSM,
no router) whose :meth:`~UpdateFeed.feed_update` passes each update to the dispatcher of
the current :class:`Generation`, looked up per update. A switch is one assignment between
two updates: an update fed before it finishes on the old dispatcher, every later one goes
to the new. Both share the storage and the events isolation, so one admin's updates stay
in order across the switch and a dialog in progress simply continues on the new one.

Each generation counts its own updates (:attr:`Generation.counter`) so that what it alone
uses (a rate service that was replaced) is closed once they are done; the process-wide
:class:`~engine.bot.inflight.InFlight` that the dispatchers share still counts them all for
the shutdown.

:class:`CurrentRates` and :class:`CurrentProviders` are what ``/health/ready`` and
``/metrics`` read: the current generation's rate service and providers, whichever that is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from engine.bot.inflight import InFlight
from engine.bot.throttle import UserThrottle
from engine.definitions import Definitions
from engine.rates.budget import Budgets
from engine.rates.metrics import RatesMetrics
from engine.rates.preloader import Preloader
from engine.rates.routing import Route
from engine.rates.service import DirectionRate, RateService
from providers.base import RatesProviderProtocol


class AppProtocol(Protocol):
    """A wired dispatcher (``engine.app.BotApp``)."""

    @property
    def dispatcher(self) -> Dispatcher: ...

    @property
    def throttle(self) -> UserThrottle: ...


class RatesProtocol(Protocol):
    """A rate service with its preloader and providers (``engine.resources.RatesParts``)."""

    @property
    def rates(self) -> RateService: ...

    @property
    def preloader(self) -> Preloader | None: ...

    @property
    def providers(self) -> Mapping[str, RatesProviderProtocol]: ...


@dataclass(eq=False)
class Generation:
    """One set of definitions serving: its dispatcher and the rate service it uses.

    Attributes:
        defs: the definitions.
        app: the dispatcher built from them.
        parts: the rate service, shared with the previous generation when the rate side
            of config.yaml did not change.
        rates_stack: what closes ``parts``: the same object for generations sharing them.
        counter: the updates this generation is handling.
    """

    defs: Definitions
    app: AppProtocol
    parts: RatesProtocol
    rates_stack: contextlib.AsyncExitStack
    counter: InFlight = field(default_factory=InFlight)


class UpdateFeed(Dispatcher):
    """Hands every update to the current generation's dispatcher (see the module docstring).

    Args:
        first: the generation serving from the start.
    """

    def __init__(self, first: Generation) -> None:
        super().__init__(disable_fsm=True, name="update feed")
        self.current = first

    def switch(self, new: Generation) -> Generation:
        """Make ``new`` the one that gets the next update; return the one it replaces."""
        old, self.current = self.current, new
        return old

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        # Polling passes itself as "dispatcher": the handlers must see their own.
        kwargs.pop("dispatcher", None)
        generation = self.current
        with generation.counter.track(update.update_id):
            return await generation.app.dispatcher.feed_update(bot, update, **kwargs)

    def update_types(self) -> list[str]:
        """The Telegram update types the current dispatcher handles."""
        return update_types(self.current.app.dispatcher)


def update_types(dispatcher: Dispatcher) -> list[str]:
    """The Telegram update types ``dispatcher``'s handlers use (aiogram-dialog's own event
    type is no Telegram update)."""
    used = dispatcher.resolve_used_update_types()
    return [kind for kind in used if kind in Update.model_fields]


class CurrentRates:
    """The current generation's rate service, for health and metrics."""

    def __init__(self, feed: UpdateFeed) -> None:
        self._feed = feed

    @property
    def _rates(self) -> RateService:
        return self._feed.current.parts.rates

    def metrics(self) -> RatesMetrics:
        return self._rates.metrics()

    def route(self, give: str, get: str) -> Route:
        return self._rates.route(give, get)

    @property
    def budgets(self) -> Budgets | None:
        return self._rates.budgets

    async def cached_snapshot(self) -> Sequence[DirectionRate]:
        return await self._rates.cached_snapshot()


class CurrentProviders(Mapping[str, object]):
    """The current generation's providers, by name, for health and metrics."""

    def __init__(self, feed: UpdateFeed) -> None:
        self._feed = feed

    def __getitem__(self, name: str) -> object:
        return self._feed.current.parts.providers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._feed.current.parts.providers))

    def __len__(self) -> int:
        return len(self._feed.current.parts.providers)
