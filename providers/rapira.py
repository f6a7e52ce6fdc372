"""Rapira exchange (rapira.net): USDT/RUB and crypto pairs from its public rates list.

One ``GET {base_url}/open/market/rates`` returns every market; no key is needed (an
``X-API-KEY`` header is sent only when one is configured). The envelope is::

    {"data": [{"symbol": "USDT/RUB", "close": 94.76, "askPrice": 94.8, "bidPrice": 94.6,
               "baseCurrency": "RUB", "quoteCurrency": "USDT", ...}, ...],
     "code": 0, "message": "SUCCESS", "totalPage": null, "totalElement": null, "isWorking": 1}

Vendor quirks this module handles on purpose:

* ``baseCurrency``/``quoteCurrency`` are named the other way round (``"RUB"``/``"USDT"``
  for ``USDT/RUB``), so markets are matched on ``symbol`` only, read as ``BASE/QUOTE``.
* ``askPrice`` and ``bidPrice`` are passed through as published, even when the ask is
  below the bid (a recorded response has that): ``askPrice`` → ``ask``, ``bidPrice`` →
  ``bid``; the mid is their mean (computed by :class:`~providers.base.Quote`). Fixing a
  crossed book silently would hide a vendor problem from the desk.
* ``code`` is checked when present (a non-zero code is an error); some recorded responses
  carry no envelope fields besides ``data``, so its absence is accepted.
* A pair Rapira lists only the other way round (``RUB/USDT`` when it lists ``USDT/RUB``)
  is served inverted: close → 1/close, bid → 1/ask, ask → 1/bid.

config.yaml::

    providers:
      rapira:
        kind: rapira
        timeout_seconds: 5
        retries: 2
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from providers.base import Pair, ProviderConfig, Quote
from providers.errors import ProviderResponseError
from providers.http import BaseHttpProvider, positive_decimal

logger = logging.getLogger("providers.rapira")

RATES_PATH = "/open/market/rates"


class RapiraConfig(ProviderConfig):
    """Rapira's settings; the key is optional (the rates endpoint is public)."""

    base_url: str | None = "https://api.rapira.net"
    api_key_env: str | None = "RAPIRA_API_KEY"


class RapiraProvider(BaseHttpProvider):
    """Quotes from Rapira's ``/open/market/rates``: close, bid, ask (and so mid).

    Constructed as every plugin is (see :class:`~providers.http.BaseHttpProvider`):
    ``RapiraProvider(name, config, session=shared_session, api_key=key_or_None)``.
    """

    config_model: ClassVar[type[ProviderConfig]] = RapiraConfig
    price_fields: ClassVar[frozenset[str]] = frozenset({"close", "ask", "bid", "mid"})

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        """Fetch every requested pair with one request.

        Raises:
            ProviderResponseError: a pair is not listed (either way round), or its close
                is missing or not a positive number; or the envelope is not Rapira's.
            ProviderError: the other subclasses, for transport and HTTP failures.
        """
        if not pairs:
            return {}
        headers = {"X-API-KEY": self._api_key} if self._api_key else None
        body, _ = await self.request_json(RATES_PATH, headers=headers)
        markets = self._markets(body)
        result: dict[Pair, Quote] = {}
        for pair in pairs:
            item = markets.get(pair)
            if item is not None:
                result[pair] = self._quote(pair, item)
                continue
            item = markets.get(pair.inverse())
            if item is None:
                raise ProviderResponseError(self.name, f"no market {pair} in the rates list")
            result[pair] = _invert(self._quote(pair.inverse(), item), pair)
        return result

    def _markets(self, body: Any) -> dict[Pair, Mapping[str, Any]]:
        """Index the ``data`` items by the pair their ``symbol`` names."""
        if not isinstance(body, dict):
            raise ProviderResponseError(self.name, "rates body is not a JSON object")
        code = body.get("code")
        if code is not None and code != 0:
            message = body.get("message")
            text = message[:80] if isinstance(message, str) else "no message"
            raise ProviderResponseError(self.name, f"rates answered code {code}: {text}")
        data = body.get("data")
        if not isinstance(data, list):
            raise ProviderResponseError(self.name, "rates body has no 'data' list")
        markets: dict[Pair, Mapping[str, Any]] = {}
        skipped = 0
        for item in data:
            symbol = item.get("symbol") if isinstance(item, dict) else None
            try:
                pair = Pair.parse(symbol) if isinstance(symbol, str) else None
            except ValueError:
                pair = None
            if pair is None:
                skipped += 1
                continue
            markets.setdefault(pair, item)
        if skipped:
            logger.debug("%s: skipped %d rates items without a usable symbol", self.name, skipped)
        return markets

    def _quote(self, pair: Pair, item: Mapping[str, Any]) -> Quote:
        close = positive_decimal(item.get("close"))
        if close is None:
            raise ProviderResponseError(
                self.name, f"{pair}: close is missing or not a positive number"
            )
        bid = positive_decimal(item.get("bidPrice"))
        ask = positive_decimal(item.get("askPrice"))
        if bid is not None and ask is not None and ask < bid:
            logger.debug(
                "%s: %s is crossed (ask %s < bid %s), kept as published", self.name, pair, ask, bid
            )
        return Quote(pair, close, bid=bid, ask=ask, source=self.name)


def _invert(quote: Quote, pair: Pair) -> Quote:
    """``quote`` for ``pair.inverse()`` restated for ``pair``: buying one side is selling
    the other, so the bid becomes 1/ask and the ask 1/bid."""
    one = Decimal(1)
    return Quote(
        pair,
        one / quote.close,
        bid=one / quote.ask if quote.ask is not None else None,
        ask=one / quote.bid if quote.bid is not None else None,
        source=quote.source,
    )
