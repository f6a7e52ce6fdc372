"""A provider for health and metrics tests: fixed close rates, or a failure; counts calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

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
