"""APILayer Exchange Rates Data: fiat reference rates (close only), metered by quota.

One ``GET {base_url}/latest?base=RUB&symbols=EUR,USD`` with the key in the ``apikey``
header answers several pairs at once::

    {"success": true, "timestamp": 1655175736, "base": "RUB", "date": "2022-06-14",
     "rates": {"EUR": 0.0098, "USD": 0.011}}

``rates`` read "1 base = x symbol". A requested ``USD/RUB`` ("1 USD = r RUB") is therefore
served from ``base=RUB`` as ``1 / rates["USD"]``, and ``RUB/USD`` as ``rates["USD"]``
itself, both exact in :class:`~decimal.Decimal` (the division uses the current decimal
context, 28 significant digits by default; nothing is rounded further).
:func:`plan_requests` picks the ``base`` of each request so that all requested pairs are
served with as few requests as possible: one when they share a currency.

Errors come in two shapes, and ``success`` is checked, not only the status:

* from the API, often with HTTP 200:
  ``{"success": false, "error": {"code": 202, "type": "invalid_currency_codes", "info": ...}}``
* from the marketplace gateway, with 401/403/404/429: ``{"message": "..."}``

Missing or invalid key, and a plan without this API, are :class:`ProviderAuthError`;
429 and ``usage_limit_reached`` are :class:`ProviderRateLimitedError`; unknown currency
codes or base are :class:`ProviderResponseError`; 5xx is :class:`ProviderUnavailableError`.

The gateway reports the quota in ``X-RateLimit-{Remaining,Limit}-{Month,Day}`` headers;
:attr:`ApiLayerProvider.quota` keeps the latest values (see
:class:`~providers.base.QuotaInfo`).

config.yaml::

    providers:
      apilayer:
        kind: apilayer
        api_key_env: API_LAYER_KEY
        monthly_budget: 1000
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import aiohttp
from pydantic import Field

from providers.base import Pair, ProviderConfig, QuotaInfo, Quote
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderResponseError,
)
from providers.http import BaseHttpProvider, positive_decimal

logger = logging.getLogger("providers.apilayer")

LATEST_PATH = "/latest"

_QUOTA_HEADERS: Mapping[str, str] = {
    "remaining_month": "X-RateLimit-Remaining-Month",
    "remaining_day": "X-RateLimit-Remaining-Day",
    "limit_month": "X-RateLimit-Limit-Month",
    "limit_day": "X-RateLimit-Limit-Day",
}

# In-body error codes of the APILayer family (Fixer / Exchange Rates Data share them).
_AUTH_ERROR_TYPES = frozenset(
    {"missing_access_key", "invalid_access_key", "inactive_user", "function_access_restricted"}
)
_AUTH_ERROR_CODES = frozenset({101, 102, 105})
_QUOTA_ERROR_TYPES = frozenset({"usage_limit_reached"})
_QUOTA_ERROR_CODES = frozenset({104})


class ApiLayerConfig(ProviderConfig):
    """APILayer's settings.

    Attributes:
        monthly_budget: requests per month the desk allows itself (the plan's allowance
            or less); the engine's preloader paces its refreshes by it.
    """

    base_url: str | None = "https://api.apilayer.com/exchangerates_data"
    api_key_env: str | None = "API_LAYER_KEY"
    monthly_budget: int | None = Field(default=None, ge=1)


def plan_requests(pairs: Sequence[Pair]) -> dict[str, list[Pair]]:
    """Group ``pairs`` by the ``base`` currency of the request that will serve them.

    Greedy: the currency found in most of the pairs still unserved becomes the next
    request's base (ties: the one more often on the quote side, then alphabetical), so
    ``USD/RUB, EUR/RUB, RUB/USDT`` take one request (base RUB), and pairs with different
    quote currencies never take more requests than there are quote currencies.
    """
    pending = list(dict.fromkeys(pairs))
    plan: dict[str, list[Pair]] = {}
    while pending:
        seen: Counter[str] = Counter()
        as_quote: Counter[str] = Counter()
        for pair in pending:
            seen[pair.base] += 1
            seen[pair.quote] += 1
            as_quote[pair.quote] += 1
        anchor = min(seen, key=lambda code: (-seen[code], -as_quote[code], code))
        plan[anchor] = [p for p in pending if anchor in (p.base, p.quote)]
        pending = [p for p in pending if anchor not in (p.base, p.quote)]
    return plan


class ApiLayerProvider(BaseHttpProvider):
    """Close-only quotes from APILayer ``/latest``; exposes the vendor-reported quota."""

    config_model: ClassVar[type[ProviderConfig]] = ApiLayerConfig
    price_fields: ClassVar[frozenset[str]] = frozenset({"close"})

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        api_key: str | None = None,
    ) -> None:
        super().__init__(name, config, session=session, api_key=api_key)
        self._quota = QuotaInfo()

    @property
    def quota(self) -> QuotaInfo:
        """The quota headers of the latest response that had any (errors included).

        A header absent from a response keeps its previous value; every field is
        ``None`` until some response carried it.
        """
        return self._quota

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        """Fetch ``pairs`` with as few ``/latest`` requests as :func:`plan_requests` finds.

        Raises:
            ProviderAuthError: no key configured (nothing is sent), or the key is refused.
            ProviderResponseError: ``success`` is not true, or a requested currency has
                no positive rate in the answer.
            ProviderError: the other subclasses, for transport and HTTP failures.
        """
        if not pairs:
            return {}
        if self._api_key is None:
            raise ProviderAuthError(
                self.name, f"no API key: set the {self.config.api_key_env} environment variable"
            )
        plan = plan_requests(pairs)
        key = self._api_key
        parts = await _all([self._latest(key, base, group) for base, group in plan.items()])
        result: dict[Pair, Quote] = {}
        for part in parts:
            result.update(part)
        return result

    async def _latest(self, key: str, base: str, pairs: Sequence[Pair]) -> dict[Pair, Quote]:
        symbols = sorted({p.quote if p.base == base else p.base for p in pairs})
        body, _ = await self.request_json(
            LATEST_PATH,
            headers={"apikey": key},
            params={"base": base, "symbols": ",".join(symbols)},
            on_response=self._record_quota,
        )
        rates = self._rates(body, base)
        result: dict[Pair, Quote] = {}
        for pair in pairs:
            symbol = pair.quote if pair.base == base else pair.base
            rate = positive_decimal(rates.get(symbol))
            if rate is None:
                raise ProviderResponseError(
                    self.name, f"{pair}: no positive {base}→{symbol} rate in the answer"
                )
            close = rate if pair.base == base else Decimal(1) / rate
            result[pair] = Quote(pair, close, source=self.name)
        return result

    def _rates(self, body: Any, base: str) -> Mapping[str, Any]:
        if not isinstance(body, dict):
            raise ProviderResponseError(self.name, "body is not a JSON object")
        if body.get("success") is not True:
            raise self._body_error(body)
        answered = body.get("base")
        if isinstance(answered, str) and answered.upper() != base:
            raise ProviderResponseError(
                self.name, f"asked for base {base}, answered for {answered[:8]}"
            )
        rates = body.get("rates")
        if not isinstance(rates, dict):
            raise ProviderResponseError(self.name, "body has no 'rates' object")
        return rates

    def _body_error(self, body: Mapping[str, Any]) -> ProviderError:
        """The error a ``success: false`` (or success-less) body stands for."""
        error = body.get("error")
        if not isinstance(error, dict):
            message = body.get("message")
            text = message[:120] if isinstance(message, str) else "success is not true"
            return ProviderResponseError(self.name, text)
        code = error.get("code")
        code = code if isinstance(code, Decimal) else None
        kind = error.get("type") if isinstance(error.get("type"), str) else "error"
        info = error.get("info")
        text = f"{kind} ({code})" + (f": {info[:120]}" if isinstance(info, str) else "")
        if kind in _AUTH_ERROR_TYPES or (code is not None and code in _AUTH_ERROR_CODES):
            return ProviderAuthError(self.name, text)
        if kind in _QUOTA_ERROR_TYPES or (code is not None and code in _QUOTA_ERROR_CODES):
            return ProviderRateLimitedError(self.name, text)
        return ProviderResponseError(self.name, text)

    def _record_quota(self, status: int, headers: Mapping[str, str]) -> None:
        values: dict[str, int] = {}
        for field, header in _QUOTA_HEADERS.items():
            raw = headers.get(header)
            if raw is None:
                continue
            try:
                values[field] = int(raw.strip())
            except ValueError:
                logger.debug("%s: ignoring non-integer %s header", self.name, header)
        if not values:
            return
        old = self._quota
        self._quota = QuotaInfo(
            remaining_month=values.get("remaining_month", old.remaining_month),
            remaining_day=values.get("remaining_day", old.remaining_day),
            limit_month=values.get("limit_month", old.limit_month),
            limit_day=values.get("limit_day", old.limit_day),
            updated_at=datetime.now(UTC),
        )
        logger.debug(
            "%s: HTTP %d, quota left: %s this month, %s today",
            self.name,
            status,
            self._quota.remaining_month,
            self._quota.remaining_day,
        )


async def _all(calls: Sequence[Awaitable[dict[Pair, Quote]]]) -> list[dict[Pair, Quote]]:
    """Run ``calls`` concurrently; on the first failure cancel the rest and raise it.

    Unlike ``TaskGroup`` this raises the provider error itself, not an ``ExceptionGroup``.
    """
    if len(calls) == 1:
        return [await calls[0]]
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" noise
        raise
