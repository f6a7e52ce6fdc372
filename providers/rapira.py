"""Rapira exchange (USDT/RUB and more): STUB, being implemented."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from providers.base import BaseProvider, Pair, ProviderConfig, Quote
from providers.errors import ProviderUnavailableError


class RapiraConfig(ProviderConfig):
    base_url: str | None = "https://api.rapira.net"
    api_key_env: str | None = "RAPIRA_API_KEY"


class RapiraProvider(BaseProvider):
    config_model: ClassVar[type[ProviderConfig]] = RapiraConfig
    price_fields: ClassVar[frozenset[str]] = frozenset({"close", "ask", "bid", "mid"})

    def __init__(
        self, name: str, config: ProviderConfig, *, session: Any = None, api_key: str | None = None
    ) -> None:
        super().__init__(name, config)

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        raise ProviderUnavailableError(self.name, "not implemented yet")
