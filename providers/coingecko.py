"""CoinGecko simple prices: coins (USDT, TON...) in fiat currencies (close only).

One ``GET {base_url}/simple/price?ids=tether,the-open-network&vs_currencies=rub`` answers
every coin × currency asked::

    {"the-open-network": {"rub": 110.21}, "tether": {"rub": 79.21}}

read "1 tether = 79.21 RUB". CoinGecko names coins by its own ids, so ``coins`` in the
config maps a currency code to its id (defaults: USDT tether, BTC bitcoin, ETH ethereum,
TON the-open-network). A pair ``COIN/FIAT`` (``COIN`` in ``coins``) is served as the price
itself, ``FIAT/COIN`` as its inverse (Decimal division in the current context); a pair
with no configured coin on either side is left out without a request, and so is a pair
the answer has no usable price for (WARNING). Only ``ids`` and ``vs_currencies`` are sent:
the recorded answers carry no timestamp, so ``as_of`` stays ``None``.

No key is needed; a demo key, when configured, travels in the ``x-cg-demo-api-key``
header. The free tier often answers HTTP 429 with
``{"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit..."}}``:
the shared HTTP layer makes it :class:`~providers.errors.ProviderRateLimitedError` with the
vendor's message in its text.

config.yaml::

    providers:
      coingecko:
        kind: coingecko
        api_key_env: COINGECKO_DEMO_API_KEY   # optional
        timeout_seconds: 5
        retries: 1
        coins: {USDT: tether, TON: the-open-network}   # replaces the defaults
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field, field_validator

from providers.base import Pair, ProviderConfig, Quote
from providers.errors import ProviderResponseError
from providers.http import BaseHttpProvider, describe_value, usable_price

logger = logging.getLogger(__name__)

PRICE_PATH = "/simple/price"
DEMO_KEY_HEADER = "x-cg-demo-api-key"
DEFAULT_COINS: Mapping[str, str] = {
    "USDT": "tether",
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "TON": "the-open-network",
}

_COIN_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
_CODE = re.compile(r"[A-Z0-9]{2,10}")


class CoinGeckoConfig(ProviderConfig):
    """CoinGecko's settings.

    Attributes:
        coins: currency code → CoinGecko coin id; giving it replaces the defaults.
    """

    base_url: str | None = "https://api.coingecko.com/api/v3"
    api_key_env: str | None = "COINGECKO_DEMO_API_KEY"
    coins: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_COINS),
        description="currency code → CoinGecko coin id, like USDT: tether; giving it "
        "replaces the defaults",
    )

    @field_validator("coins")
    @classmethod
    def _codes_and_ids(cls, value: dict[str, str]) -> dict[str, str]:
        coins: dict[str, str] = {}
        for code, coin_id in value.items():
            upper = code.strip().upper()
            if not _CODE.fullmatch(upper):
                raise ValueError(f"{code!r} is not a currency code like 'USDT'")
            if not _COIN_ID.fullmatch(coin_id):
                raise ValueError(f"{coin_id!r} is not a CoinGecko coin id like 'tether'")
            coins[upper] = coin_id
        return coins


class CoinGeckoProvider(BaseHttpProvider):
    """Close-only quotes ``COIN/FIAT`` (and the inverse) from ``/simple/price``."""

    config_model: ClassVar[type[ProviderConfig]] = CoinGeckoConfig
    price_fields: ClassVar[frozenset[str]] = frozenset({"close"})

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        """Fetch every servable pair with one request.

        Raises:
            ProviderResponseError: the body is not CoinGecko's price object, or no
                requested pair could be served (none maps to a configured coin, or the
                answer has no usable price for any).
            ProviderRateLimitedError: HTTP 429 (the free tier's usual answer).
            ProviderError: the other subclasses, for transport and HTTP failures.
        """
        if not pairs:
            return {}
        assert isinstance(self.config, CoinGeckoConfig)
        coins = self.config.coins
        legs: dict[Pair, tuple[str, str]] = {}  # pair -> (coin id, vs currency)
        left_out: dict[Pair, str] = {}
        for pair in pairs:
            if pair.base in coins:
                legs[pair] = (coins[pair.base], pair.quote.lower())
            elif pair.quote in coins:
                legs[pair] = (coins[pair.quote], pair.base.lower())
            else:
                left_out[pair] = "neither side is a coin configured under 'coins'"
        if not legs:
            return self.finish_fetch(pairs, {}, left_out)
        ids = sorted({coin for coin, _ in legs.values()})
        vs = sorted({currency for _, currency in legs.values()})
        headers = {DEMO_KEY_HEADER: self._api_key} if self._api_key else None
        body, _ = await self.request_json(
            PRICE_PATH,
            headers=headers,
            params={"ids": ",".join(ids), "vs_currencies": ",".join(vs)},
        )
        prices = self._prices(body)
        result: dict[Pair, Quote] = {}
        for pair, (coin, currency) in legs.items():
            row = prices.get(coin)
            raw = row.get(currency) if isinstance(row, dict) else None
            price = usable_price(raw)
            if price is None:
                what = "no" if raw is None else "no usable"
                left_out[pair] = f"{what} {coin} price in {currency} ({describe_value(raw)})"
                continue
            close = price if pair.base in coins else Decimal(1) / price
            result[pair] = Quote(pair, close, source=self.name)
        return self.finish_fetch(pairs, result, left_out)

    def _prices(self, body: Any) -> Mapping[str, Any]:
        if not isinstance(body, dict):
            raise ProviderResponseError(self.name, "simple/price body is not a JSON object")
        if isinstance(body.get("status"), dict):  # an error envelope with a 2xx status
            message = body["status"].get("error_message")
            text = message[:120] if isinstance(message, str) else "no message"
            raise ProviderResponseError(self.name, f"simple/price answered an error: {text}")
        return body
