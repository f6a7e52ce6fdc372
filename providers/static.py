"""The offline provider: fixed rates declared in ``config.yaml``.

Used for demos, previews (``crypto-helper check``) and tests. Its rates are ones a person
typed into the config on purpose, so quoting them is honest; the result card still names
the source as ``static``.

config.yaml::

    providers:
      static:
        kind: static
        rates:
          USDT/RUB: {close: "85.30", bid: "85.20", ask: "85.40"}
          USD/RUB: "81.50"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from providers.base import BaseProvider, Pair, ProviderConfig, Quote


class StaticPrices(BaseModel):
    """The prices of one pair."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    close: Decimal = Field(gt=0, allow_inf_nan=False, description="the last price")
    bid: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="the best bid, if any"
    )
    ask: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="the best ask, if any"
    )


class StaticConfig(ProviderConfig):
    """``rates`` maps ``BASE/QUOTE`` to a price or to ``{close, bid, ask}``."""

    rates: dict[str, StaticPrices] = Field(
        default_factory=dict,
        description='the fixed rates, by pair: USD/RUB: "81.50", or USDT/RUB: '
        '{close: "85.30", bid: "85.20", ask: "85.40"}',
    )

    @field_validator(
        "rates", mode="before", json_schema_input_type=dict[str, StaticPrices | Decimal]
    )
    @classmethod
    def _expand_plain_numbers(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: v if isinstance(v, Mapping) else {"close": v} for k, v in value.items()}
        return value

    @field_validator("rates")
    @classmethod
    def _pairs_parse(cls, value: dict[str, StaticPrices]) -> dict[str, StaticPrices]:
        for key in value:
            Pair.parse(key)
        return value


class StaticProvider(BaseProvider):
    """Serves the configured fixed rates, for exactly the pairs configured."""

    config_model: ClassVar[type[ProviderConfig]] = StaticConfig
    price_fields: ClassVar[frozenset[str]] = frozenset({"close", "ask", "bid", "mid"})
    needs_network: ClassVar[bool] = False

    def __init__(
        self, name: str, config: ProviderConfig, *, session: Any = None, api_key: str | None = None
    ) -> None:
        super().__init__(name, config)
        assert isinstance(config, StaticConfig)
        self._quotes = {
            Pair.parse(key): Quote(Pair.parse(key), p.close, p.bid, p.ask, source=name)
            for key, p in config.rates.items()
        }

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        """The configured quotes of ``pairs``; unconfigured pairs are left out (WARNING).

        Raises:
            ProviderResponseError: none of ``pairs`` is configured ("no static rate").
        """
        left_out = {p: "no static rate configured" for p in pairs if p not in self._quotes}
        return self.finish_fetch(pairs, self._quotes, left_out)
