"""Plain data and the protocol every rate provider implements.

A :class:`Pair` ``USDT/RUB`` reads "1 USDT = rate RUB": ``base`` is the asset, ``quote``
the price currency. Rates are :class:`~decimal.Decimal`, never float.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from providers.errors import ProviderResponseError

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

    Attributes:
        pair: the pair quoted.
        close: the last price, or the only rate a fiat source publishes.
        bid: the best bid, where the venue publishes one.
        ask: the best ask, where the venue publishes one.
        source: the configured provider name that produced the quote.
        as_of: when the vendor says the data was made, as UTC epoch seconds (APILayer's
            ``timestamp``, the Central Bank's ``Date``); ``None`` when the vendor does not
            say. Not when we fetched it: the engine knows that itself. It may lie slightly
            ahead of the local clock (skew, or a rate published in advance for the next
            day); the engine decides how to read that.
        stale: the vendor itself flags the data as not live (Rapira's ``isWorking: 0``):
            the price may be quoted, but not as a current one.
    """

    pair: Pair
    close: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    source: str = ""
    as_of: float | None = None
    stale: bool = False

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
    base_url: str | None = Field(
        default=None, description="the source's web address; leave it out for the usual one"
    )
    timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="how long one request may take, in seconds"
    )
    retries: int = Field(
        default=2, ge=0, le=10, description="how many times a failed request is tried again"
    )
    api_key_env: str | None = Field(
        default=None, description="name of the environment variable holding the API key"
    )
    max_data_age_seconds: float | None = Field(
        default=None,
        gt=0,
        description="oldest data (by the vendor's own timestamp) still quoted; default: "
        "the cache's ttl plus max_stale_seconds. A source publishing once a day (cbr) "
        "needs days here",
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
class RequestCountingProtocol(Protocol):
    """A provider that counts the HTTP requests it sent (every attempt, retries included).

    The count only grows; the engine reads it to meter a provider (differences between
    two readings), e.g. against a vendor's monthly allowance.
    """

    @property
    def requests_sent(self) -> int: ...


@runtime_checkable
class RatesProviderProtocol(Protocol):
    """What the engine needs from a provider."""

    name: str

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        """Fetch quotes for ``pairs`` in one upstream round trip where possible.

        Returns a quote for every requested pair it can serve; unusable or unlisted pairs
        are left out and logged (a WARNING naming the pair and why), so one bad price costs
        only its own pair. Nothing but requested pairs is returned; an empty ``pairs`` gives
        an empty mapping without any request.

        Raises:
            ProviderResponseError: not one requested pair could be served.
            ProviderError: a subclass describing why (see :mod:`providers.errors`).
        """
        ...

    async def close(self) -> None:
        """Release what the provider owns (not the shared HTTP session)."""
        ...


class BaseProvider:
    """Convenience base for plugins: stores the name and config, declares capabilities,
    and shapes a partial fetch result (:meth:`finish_fetch`).

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

    def finish_fetch(
        self,
        pairs: Sequence[Pair],
        quotes: Mapping[Pair, Quote],
        left_out: Mapping[Pair, str],
        *,
        reported: Mapping[Pair, str] | None = None,
    ) -> dict[Pair, Quote]:
        """The result of :meth:`fetch` as the protocol wants it: partial, never empty.

        Args:
            pairs: the requested pairs.
            quotes: the usable quotes found (anything not requested is dropped).
            left_out: pair → why it cannot be served; each is logged at WARNING.
            reported: pair → why, for reasons already logged once (logged at DEBUG).

        Raises:
            ProviderResponseError: ``pairs`` is not empty and none of them has a quote;
                the message names the pairs and why (the first few).
        """
        result = {pair: quotes[pair] for pair in pairs if pair in quotes}
        reasons = {**(reported or {}), **left_out}
        if pairs and not result:
            listed = [f"{pair}: {reasons.get(pair, 'no quote')}" for pair in dict.fromkeys(pairs)]
            more = len(listed) - _REASONS_IN_MESSAGE
            text = "; ".join(listed[:_REASONS_IN_MESSAGE]) + (
                f"; and {more} more" if more > 0 else ""
            )
            raise ProviderResponseError(self.name, text)
        log = logging.getLogger(type(self).__module__)
        for pair in dict.fromkeys(pairs):
            if pair in result:
                continue
            if pair in left_out:
                log.warning("%s: %s left out: %s", self.name, pair, left_out[pair])
            else:
                log.debug("%s: %s left out: %s", self.name, pair, reasons.get(pair, "no quote"))
        return result


_REASONS_IN_MESSAGE = 3
