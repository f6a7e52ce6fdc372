"""APILayer Exchange Rates Data: STUB, being implemented."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import Field

from providers.base import BaseProvider, Pair, ProviderConfig, Quote
from providers.errors import ProviderUnavailableError


class ApiLayerConfig(ProviderConfig):
    base_url: str | None = "https://api.apilayer.com/exchangerates_data"
    api_key_env: str | None = "API_LAYER_KEY"
    monthly_budget: int | None = Field(default=None, ge=1)


class ApiLayerProvider(BaseProvider):
    config_model: ClassVar[type[ProviderConfig]] = ApiLayerConfig

    def __init__(
        self, name: str, config: ProviderConfig, *, session: Any = None, api_key: str | None = None
    ) -> None:
        super().__init__(name, config)

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        raise ProviderUnavailableError(self.name, "not implemented yet")
