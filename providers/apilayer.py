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
429 and ``usage_limit_reached`` are :class:`ProviderRateLimitedError`; an unknown base
is :class:`ProviderResponseError`; 5xx is :class:`ProviderUnavailableError`.

``invalid_currency_codes`` (202) does not say *which* symbol it rejects, and one unknown
code must not take every fiat direction down. The provider then finds the rejected
code(s) by asking again for halves of the symbols (binary splitting; a half known to hold
a rejected code because its sibling passed is split without being asked, so one rejected
code among n costs about 1 + log2(n) requests, every one counted in
:attr:`~providers.http.BaseHttpProvider.requests_sent`). The rates of the halves that
pass are used, the rejected codes are logged in one WARNING and remembered on the
instance for ``forget_rejected_after_seconds`` (24 h), during which pairs needing them
are left out without being asked for. When *every* code of a request is rejected
nothing is remembered (that looks like a vendor fault more than a typo in the config)
and, if no other pair was served, the fetch raises :class:`ProviderResponseError`.

``as_of`` is the body's ``timestamp`` (Unix seconds, when APILayer says the rates were
taken), ignored when absent or not a sane number (see
:func:`~providers.http.epoch_seconds`). A rate that is not a usable price (see
:func:`~providers.http.usable_price`) leaves its pairs out with a WARNING.

The gateway reports the quota in ``X-RateLimit-{Remaining,Limit}-{Month,Day}`` headers;
:attr:`ApiLayerProvider.quota` keeps the latest values (see
:class:`~providers.base.QuotaInfo`).

config.yaml::

    providers:
      apilayer:
        kind: apilayer
        api_key_env: API_LAYER_KEY
        monthly_budget: 1000
        forget_rejected_after_seconds: 86400   # the default
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import aiohttp
from pydantic import Field

from providers.base import Pair, ProviderConfig, QuotaInfo, Quote
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderResponseError,
)
from providers.http import BaseHttpProvider, describe_value, epoch_seconds, usable_price

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
_INVALID_CODES_TYPE = "invalid_currency_codes"
_INVALID_CODES_CODE = 202

T = TypeVar("T")


class ApiLayerConfig(ProviderConfig):
    """APILayer's settings.

    Attributes:
        monthly_budget: requests per month the desk allows itself (the plan's allowance
            or less); the engine's preloader paces its refreshes by it.
        forget_rejected_after_seconds: how long currency codes APILayer rejected as
            ``invalid_currency_codes`` are not asked for again (0: ask every time).
    """

    base_url: str | None = "https://api.apilayer.com/exchangerates_data"
    api_key_env: str | None = "API_LAYER_KEY"
    monthly_budget: int | None = Field(
        default=None,
        ge=1,
        description="requests per month the desk allows itself (the plan's allowance or "
        "less); refreshes are paced so they last the month",
    )
    forget_rejected_after_seconds: float = Field(
        default=24 * 3600,
        ge=0,
        description="how long currency codes APILayer rejected are not asked for again "
        "(0: ask every time)",
    )


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
        assert isinstance(config, ApiLayerConfig)
        self._forget_after = config.forget_rejected_after_seconds
        self._quota = QuotaInfo()
        self._rejected: dict[str, float] = {}  # code -> monotonic time it is forgotten

    @property
    def quota(self) -> QuotaInfo:
        """The quota headers of the latest response that had any (errors included).

        A header absent from a response keeps its previous value; every field is
        ``None`` until some response carried it.
        """
        return self._quota

    @property
    def rejected_codes(self) -> frozenset[str]:
        """Currency codes APILayer rejected lately, not asked for until forgotten."""
        now = time.monotonic()
        return frozenset(code for code, until in self._rejected.items() if until > now)

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        """Fetch ``pairs`` with as few ``/latest`` requests as :func:`plan_requests` finds.

        Pairs whose rate is missing or unusable, or that need a currency code APILayer
        rejects, are left out (see the module docstring).

        Raises:
            ProviderAuthError: no key configured (nothing is sent), or the key is refused.
            ProviderResponseError: ``success`` is not true (other than for rejected
                codes), or no requested pair could be served.
            ProviderError: the other subclasses, for transport and HTTP failures.
        """
        if not pairs:
            return {}
        if self._api_key is None:
            raise ProviderAuthError(
                self.name, f"no API key: set the {self.config.api_key_env} environment variable"
            )
        rejected = self.rejected_codes
        known: dict[Pair, str] = {}
        wanted: list[Pair] = []
        for pair in dict.fromkeys(pairs):
            codes = sorted({pair.base, pair.quote} & rejected)
            if codes:
                known[pair] = f"APILayer rejected {', '.join(codes)} lately (not asked again yet)"
            else:
                wanted.append(pair)
        plan = plan_requests(wanted)
        key = self._api_key
        parts = await _all([self._latest(key, base, group) for base, group in plan.items()])
        result: dict[Pair, Quote] = {}
        left_out: dict[Pair, str] = {}
        for part in parts:
            result.update(part.quotes)
            left_out.update(part.left_out)
            known.update(part.reported)
        return self.finish_fetch(pairs, result, left_out, reported=known)

    async def _latest(self, key: str, base: str, pairs: Sequence[Pair]) -> _Part:
        symbols = sorted({p.quote if p.base == base else p.base for p in pairs})
        answer = await self._answer_around_rejections(key, base, symbols)
        part = _Part()
        for pair in pairs:
            symbol = pair.quote if pair.base == base else pair.base
            if symbol in answer.rejected:
                part.reported[pair] = f"APILayer rejects the currency code {symbol}"
                continue
            if answer.failure is not None:
                part.left_out[pair] = answer.failure
                continue
            raw = answer.rates.get(symbol)
            rate = usable_price(raw)
            if rate is None:
                what = "no" if raw is None else "no usable"
                part.left_out[pair] = f"{what} {base}→{symbol} rate ({describe_value(raw)})"
                continue
            close = rate if pair.base == base else Decimal(1) / rate
            part.quotes[pair] = Quote(pair, close, source=self.name, as_of=answer.as_of)
        return part

    async def _answer_around_rejections(self, key: str, base: str, symbols: list[str]) -> _Answer:
        """The rates for ``symbols``, asking again for halves when a code is rejected."""
        first = await self._ask(key, base, symbols)
        if first is not None:
            return first
        found = _Answer()
        as_ofs: list[float] = []

        async def probe(group: list[str], *, failed: bool) -> bool:
            """Serve ``group`` (already known to fail when ``failed``); True if clean."""
            if not failed:
                answer = await self._ask(key, base, group)
                if answer is not None:
                    found.rates.update(answer.rates)
                    if answer.as_of is not None:
                        as_ofs.append(answer.as_of)
                    return True
            if len(group) == 1:
                found.rejected.add(group[0])
                return False
            half = len(group) // 2
            left_clean = await probe(group[:half], failed=False)
            # The group failed: if its left half is clean, the right one holds the culprit.
            await probe(group[half:], failed=left_clean)
            return False

        await probe(symbols, failed=True)
        found.as_of = min(as_ofs) if as_ofs else None
        rejected = sorted(found.rejected)
        if len(rejected) == len(symbols):
            found.failure = (
                f"{_INVALID_CODES_TYPE} ({_INVALID_CODES_CODE}) for every code asked "
                f"with base {base}: {', '.join(rejected)}"
            )
            found.rejected.clear()  # a vendor fault more likely than all codes wrong
            return found
        until = time.monotonic() + self._forget_after
        for code in rejected:
            self._rejected[code] = until
        logger.warning(
            "%s: APILayer rejects the currency code(s) %s (%s); pairs needing them are "
            "left out for %.0f s",
            self.name,
            ", ".join(rejected),
            _INVALID_CODES_TYPE,
            self._forget_after,
        )
        return found

    async def _ask(self, key: str, base: str, symbols: Sequence[str]) -> _Answer | None:
        """One ``/latest`` request; ``None`` when APILayer answers invalid_currency_codes."""
        body, _ = await self.request_json(
            LATEST_PATH,
            headers={"apikey": key},
            params={"base": base, "symbols": ",".join(symbols)},
            on_response=self._record_quota,
        )
        if _is_invalid_codes(body):
            return None
        return _Answer(
            rates=dict(self._rates(body, base)), as_of=epoch_seconds(body.get("timestamp"))
        )

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
        for attr, header in _QUOTA_HEADERS.items():
            raw = headers.get(header)
            if raw is None:
                continue
            try:
                values[attr] = int(raw.strip())
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


@dataclass
class _Answer:
    """What ``/latest`` said for one base: rates by symbol, and the codes it rejected."""

    rates: dict[str, Any] = field(default_factory=dict)
    as_of: float | None = None
    rejected: set[str] = field(default_factory=set)
    failure: str | None = None  # every code rejected: why all its pairs are left out


@dataclass
class _Part:
    """One request group's share of a fetch."""

    quotes: dict[Pair, Quote] = field(default_factory=dict)
    left_out: dict[Pair, str] = field(default_factory=dict)  # logged at WARNING
    reported: dict[Pair, str] = field(default_factory=dict)  # already in one WARNING


def _is_invalid_codes(body: Any) -> bool:
    if not isinstance(body, dict) or body.get("success") is not False:
        return False
    error = body.get("error")
    if not isinstance(error, dict):
        return False
    return error.get("type") == _INVALID_CODES_TYPE or error.get("code") == _INVALID_CODES_CODE


async def _all(calls: Sequence[Awaitable[T]]) -> list[T]:
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
