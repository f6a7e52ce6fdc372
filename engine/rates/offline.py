"""Offline rates for ``check``, ``preview`` and demo mode: the static provider only."""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.config.models import AppConfig
from engine.rates.service import RateService
from providers.static import StaticConfig, StaticProvider

OFFLINE_PROVIDER = "static"


def create_offline_rates(
    config: AppConfig, clock: Callable[[], float] = time.monotonic
) -> RateService:
    """A :class:`RateService` routing every pair to the ``static`` provider of config.yaml.

    Without a ``static`` block every rate is unavailable (never invented); the result card
    names ``static`` as the source, so an offline quote is not mistaken for a live one.
    """
    block = config.providers.get(OFFLINE_PROVIDER)
    static = block if isinstance(block, StaticConfig) else StaticConfig(kind=OFFLINE_PROVIDER)
    provider = StaticProvider(OFFLINE_PROVIDER, static)
    return RateService(config.offline(OFFLINE_PROVIDER), {OFFLINE_PROVIDER: provider}, clock)
