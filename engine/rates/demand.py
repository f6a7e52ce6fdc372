"""Which pairs the desk actually needs from each provider.

Only pairs that some configured direction uses are ever fetched: a provider's whole demand
is requested in one call (APILayer answers every fiat at once), and a provider nobody's
pairs route to is never called.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from engine.config.models import AppConfig
from engine.rates.routing import NoRouteError, Route, resolve
from providers.base import Pair

logger = logging.getLogger("engine.rates")

Direction = tuple[str, str]


def direction_routes(config: AppConfig) -> dict[Direction, Route]:
    """The route of every configured direction, in config order.

    Raises:
        NoRouteError: a direction has no route (the config check reports it first).
    """
    return {
        (give, get): resolve(config, give, get)
        for give, gets in config.directions.items()
        for get in gets
    }


def provider_demand(routes: Iterable[Route]) -> dict[str, tuple[Pair, ...]]:
    """Provider name → the sorted pairs the routes read from it."""
    table: dict[str, set[Pair]] = {}
    for route in routes:
        for leg in route.legs:
            for name in leg.providers:
                table.setdefault(name, set()).add(leg.pair)
    return {name: tuple(sorted(pairs)) for name, pairs in table.items()}


def preload_providers(
    config: AppConfig, demand: Mapping[str, tuple[Pair, ...]]
) -> tuple[str, ...]:
    """Providers serving some ``preload.pairs`` entry that a direction uses.

    A preload pair no direction uses is ignored with a WARNING: fetching it would spend
    requests on a rate nobody is offered.
    """
    names: dict[str, None] = {}
    for text in config.preload.pairs:
        pair = Pair.parse(text)
        try:
            legs = resolve(config, pair.base, pair.quote).legs
        except NoRouteError:
            legs = ()
        used = [leg for leg in legs if any(leg.pair in demand.get(n, ()) for n in leg.providers)]
        if not used:
            logger.warning("preload pair %s is not used by any direction; not preloaded", pair)
        # Fallbacks are kept warm too: switching to one is then instant, and two sources
        # of a pair can be compared (disagreement, jump confirmation).
        names.update(dict.fromkeys(name for leg in used for name in leg.providers))
    return tuple(names)
