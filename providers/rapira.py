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
* ``isWorking`` is read as the exchange's own "trading is live" flag: ``0`` (or
  ``false``) means Rapira says it is not working now (trading halted, maintenance), so the
  prices it still lists are the last ones, not live: every quote of that answer gets
  ``stale=True``. ``1``, ``true``, ``null`` or no such field (some recorded responses have
  no envelope) read as live; any other value is logged at DEBUG and read as live too,
  since only an explicit "not working" is the vendor's statement. Rapira publishes no
  timestamp, so ``as_of`` stays ``None``.
* A price is usable only within the bounds of :func:`~providers.http.usable_price`; a
  pair whose ``close`` is not is left out (WARNING); an unusable ``bidPrice`` or
  ``askPrice`` only loses that side (``None``).
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
from providers.http import BaseHttpProvider, describe_value, usable_price

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

        A pair that is not listed (either way round), or whose close is missing or not a
        usable price, is left out with a WARNING.

        Raises:
            ProviderResponseError: the envelope is not Rapira's, or no requested pair
                could be served.
            ProviderError: the other subclasses, for transport and HTTP failures.
        """
        if not pairs:
            return {}
        headers = {"X-API-KEY": self._api_key} if self._api_key else None
        body, _ = await self.request_json(RATES_PATH, headers=headers)
        markets = self._markets(body)
        stale = self._not_working(body)
        result: dict[Pair, Quote] = {}
        left_out: dict[Pair, str] = {}
        for pair in pairs:
            listed, item = pair, markets.get(pair)
            if item is None:
                listed, item = pair.inverse(), markets.get(pair.inverse())
            if item is None:
                left_out[pair] = "no market in the rates list (either way round)"
                continue
            quote = self._quote(listed, item, stale=stale)
            if isinstance(quote, str):
                left_out[pair] = quote if listed == pair else f"listed as {listed}, {quote}"
                continue
            result[pair] = quote if listed == pair else _invert(quote, pair)
        return self.finish_fetch(pairs, result, left_out)

    def _not_working(self, body: Mapping[str, Any]) -> bool:
        """True when the envelope says ``isWorking: 0`` (see the module docstring)."""
        flag = body.get("isWorking")
        if flag is None or flag is True or flag == 1:
            return False
        if flag is False or (isinstance(flag, Decimal) and flag == 0):
            logger.info("%s: the rates list says isWorking=0: quotes marked stale", self.name)
            return True
        logger.debug("%s: unexpected isWorking %s, read as live", self.name, describe_value(flag))
        return False

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

    def _quote(self, pair: Pair, item: Mapping[str, Any], *, stale: bool) -> Quote | str:
        """The quote of ``item`` (listed as ``pair``), or why there is none."""
        raw_close = item.get("close")
        close = usable_price(raw_close)
        if close is None:
            what = "missing" if raw_close is None else "not a usable price"
            return f"close is {what} ({describe_value(raw_close)})"
        bid = self._side(pair, "bidPrice", item)
        ask = self._side(pair, "askPrice", item)
        if bid is not None and ask is not None and ask < bid:
            logger.debug(
                "%s: %s is crossed (ask %s < bid %s), kept as published", self.name, pair, ask, bid
            )
        return Quote(pair, close, bid=bid, ask=ask, source=self.name, stale=stale)

    def _side(self, pair: Pair, key: str, item: Mapping[str, Any]) -> Decimal | None:
        raw = item.get(key)
        price = usable_price(raw)
        if price is None and raw is not None:
            logger.warning(
                "%s: %s %s %s is not a usable price: that side left out",
                self.name,
                pair,
                key,
                describe_value(raw),
            )
        return price


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
        as_of=quote.as_of,
        stale=quote.stale,
    )
