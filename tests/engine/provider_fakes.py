"""A provider for health and metrics tests: fixed close rates, or a failure; counts calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from engine.config.models import AppConfig
from providers.base import Pair, Quote
from providers.errors import ProviderError


class Provider:
    """Serves fixed close rates, or fails with ``error``; counts calls."""

    def __init__(self, name: str, rates: Mapping[str, str]) -> None:
        self.name = name
        self.quotes = {Pair.parse(p): Quote(Pair.parse(p), Decimal(r)) for p, r in rates.items()}
        self.error: ProviderError | None = None
        self.calls = 0

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return {p: self.quotes[p] for p in pairs}

    async def close(self) -> None:
        return None


def single_source(config: AppConfig) -> AppConfig:
    """``config`` with each routing rule's first provider only (no fallbacks)."""
    rules = [
        rule.model_copy(update={"provider": rule.providers[0]}) for rule in config.routing.rules
    ]
    return config.model_copy(
        update={"routing": config.routing.model_copy(update={"rules": rules})}
    )
