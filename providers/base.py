"""Plain data and the protocol every rate provider implements.

A :class:`Pair` ``USDT/RUB`` reads "1 USDT = rate RUB": ``base`` is the asset, ``quote``
the price currency. Rates are :class:`~decimal.Decimal`, never float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

PriceField = Literal["close", "ask", "bid", "mid"]
PRICE_FIELDS: tuple[PriceField, ...] = ("close", "ask", "bid", "mid")


@dataclass(frozen=True, slots=True, order=True)
class Pair:
    """A currency pair, ``base/quote``: 1 base = rate quote."""

    base: str
    quote: str

    @classmethod
    def parse(cls, text: str) -> Pair:
        """Parse ``"USDT/RUB"`` (also ``USDT_RUB``, ``usdt-rub``).

        Raises:
            ValueError: the text is not two currency codes joined by ``/``, ``_`` or ``-``.
        """
        for sep in ("/", "_", "-"):
            if sep in text:
                base, _, quote = text.partition(sep)
                base, quote = base.strip().upper(), quote.strip().upper()
                if base and quote and base != quote and sep not in quote:
                    return cls(base, quote)
                break
        raise ValueError(f"{text!r} is not a currency pair like 'USDT/RUB'")

    def inverse(self) -> Pair:
        return Pair(self.quote, self.base)

    def __str__(self) -> str:
        return f"{self.base}/{self.quote}"


@dataclass(frozen=True, slots=True)
class Quote:
    """One pair's prices as a provider reported them.

    ``close`` is always present (the last trade, or the only rate a fiat source has);
    ``bid``/``ask`` only where the venue publishes an order book.
    """

    pair: Pair
    close: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    source: str = ""

    def price(self, field: PriceField) -> Decimal | None:
        """The price for ``field``, or ``None`` when this quote does not carry it."""
        if field == "close":
            return self.close
        if field == "ask":
            return self.ask
        if field == "bid":
            return self.bid
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


class ProviderConfig(BaseModel):
    """Settings every provider accepts in ``config.yaml`` under ``providers.<name>``.

    Plugins subclass it to add their own fields; unknown keys are errors.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="plugin name in the registry: static, rapira, apilayer...")
    base_url: str | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=10)
    api_key_env: str | None = Field(
        default=None, description="name of the environment variable holding the API key"
    )


@dataclass(frozen=True, slots=True)
class QuotaInfo:
    """A metered provider's request quota, as its last response reported it.

    Every field is ``None`` until a response carries the matching header.

    Attributes:
        remaining_month: requests left in the current billing month.
        remaining_day: requests left today.
        limit_month: the monthly allowance of the plan.
        limit_day: the daily allowance of the plan.
        updated_at: when (UTC) a response last carried any of these headers.
    """

    remaining_month: int | None = None
    remaining_day: int | None = None
    limit_month: int | None = None
    limit_day: int | None = None
    updated_at: datetime | None = None


@runtime_checkable
class QuotaReportingProtocol(Protocol):
    """A provider that meters requests exposes what the vendor says is left."""

    @property
    def quota(self) -> QuotaInfo: ...


@runtime_checkable
class RatesProviderProtocol(Protocol):
    """What the engine needs from a provider."""

    name: str

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        """Fetch quotes for ``pairs`` in one upstream round trip where possible.

        Returns a quote for every requested pair.

        Raises:
            ProviderError: a subclass describing why (see :mod:`providers.errors`).
        """
        ...

    async def close(self) -> None:
        """Release what the provider owns (not the shared HTTP session)."""
        ...


class BaseProvider:
    """Convenience base for plugins: stores the name and config, declares capabilities.

    Class attributes:
        config_model: the pydantic model validating this plugin's config block.
        price_fields: which :data:`PriceField` values its quotes carry.
        needs_network: False for offline providers (the static one).
    """

    config_model: ClassVar[type[ProviderConfig]] = ProviderConfig
    price_fields: ClassVar[frozenset[str]] = frozenset({"close"})
    needs_network: ClassVar[bool] = True

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config

    async def close(self) -> None:
        return None
