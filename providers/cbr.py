"""Central Bank of Russia daily rates, via the cbr-xml-daily.ru JSON mirror (close only).

One ``GET {base_url}/daily_json.js`` (no key) returns every official rate of the day::

    {"Date": "2023-06-10T11:30:00+03:00", "PreviousDate": "2023-06-09T11:30:00+03:00",
     "PreviousURL": "//www.cbr-xml-daily.ru/archive/2023/06/09/daily_json.js",
     "Timestamp": "2023-06-12T20:00:00+03:00",
     "Valute": {"USD": {"ID": "R01235", "NumCode": "840", "CharCode": "USD", "Nominal": 1,
                        "Name": "Доллар США", "Value": 82.6417, "Previous": 82.093},
                "IDR": {..., "Nominal": 10000, "Value": 55.4531, ...}, ...}}

``Value`` is the price in roubles of ``Nominal`` units of the currency, so this provider
serves ``X/RUB`` as ``Value / Nominal`` and ``RUB/X`` as ``Nominal / Value`` for every ``X``
listed; it serves no cross rate (``USD/EUR`` is left out: combining legs is the engine's
routing, not the provider's). The divisions run in a fixed local Decimal context of
:data:`PRECISION` digits, independent of the caller's context: ``Value / Nominal`` is exact
(``Nominal`` is a power of ten and ``Value`` has at most
:data:`~providers.http.MAX_PRICE_DIGITS` digits), ``Nominal / Value`` is rounded half-even
at the 28th digit.

Vendor quirks this module handles on purpose:

* ``Nominal`` is not always 1 (AMD 100, THB 10, IDR 10000), and the CBR changes it now and
  then; ``Value`` alone is never a per-unit rate. A ``Nominal`` that is not a positive
  whole number (up to :data:`MAX_NOMINAL`) leaves that currency out.
* ``Previous`` is the previous day's ``Value`` *at today's* ``Nominal`` only most of the
  time: the recorded sample has INR ``Value`` 10.0394 with ``Previous`` 99.5595, the day the
  INR nominal went from 100 to 10. It is not read.
* ``Date`` vs ``Timestamp``: ``Date`` is the moment (11:30 Moscow time) from which these
  official rates apply; ``Timestamp`` is when the mirror last rewrote the file (in the
  sample two days later, over a weekend, with the same rates). ``as_of`` is taken from
  ``Date``, because it is what the vendor says about the data, while ``Timestamp`` only says
  the mirror was alive. The CBR sets the rates the business day before, so ``Date`` can be
  up to a day (a long weekend: a few days) ahead of the wall clock when the next day's
  rates are out, and days behind it over weekends and holidays: a daily source is old by
  design, the engine decides how old is too old for it. An unparsable ``Date`` gives
  ``as_of=None``.
* Values are JSON numbers with 4 decimals; a value that is not a usable price (see
  :func:`~providers.http.usable_price`) leaves its pairs out with a WARNING.

config.yaml::

    providers:
      cbr:
        kind: cbr
        base_url: https://www.cbr-xml-daily.ru   # the default
        timeout_seconds: 5
        retries: 2
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any, ClassVar

from providers.base import Pair, ProviderConfig, Quote
from providers.errors import ProviderResponseError
from providers.http import BaseHttpProvider, describe_value, in_price_range, usable_price

logger = logging.getLogger(__name__)

DAILY_PATH = "/daily_json.js"
RUB = "RUB"
PRECISION = 28
"""Significant digits of the divisions (Python's default context has as many)."""
MAX_NOMINAL = Decimal(10) ** 9
"""The largest ``Nominal`` taken as sane (the CBR uses up to 10000)."""

_CONTEXT = Context(
    prec=PRECISION, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


class CbrConfig(ProviderConfig):
    """The Central Bank mirror's settings; it needs no key."""

    base_url: str | None = "https://www.cbr-xml-daily.ru"
    api_key_env: str | None = None


class CbrProvider(BaseHttpProvider):
    """Close-only quotes ``X/RUB`` and ``RUB/X`` from the CBR daily rates."""

    config_model: ClassVar[type[ProviderConfig]] = CbrConfig
    price_fields: ClassVar[frozenset[str]] = frozenset({"close"})

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        """Fetch every requested pair with one request.

        A pair without RUB on one side, a currency not listed, or one whose ``Value`` or
        ``Nominal`` is unusable, is left out with a WARNING.

        Raises:
            ProviderResponseError: the body is not the daily rates document, or no
                requested pair could be served.
            ProviderError: the other subclasses, for transport and HTTP failures.
        """
        if not pairs:
            return {}
        body, _ = await self.request_json(DAILY_PATH)
        valute = self._valute(body)
        as_of = _as_of(body.get("Date"))
        result: dict[Pair, Quote] = {}
        left_out: dict[Pair, str] = {}
        for pair in pairs:
            if RUB not in (pair.base, pair.quote):
                left_out[pair] = "the CBR publishes rates against RUB only"
                continue
            code = pair.quote if pair.base == RUB else pair.base
            item = valute.get(code)
            if not isinstance(item, dict):
                left_out[pair] = f"{code} is not in the CBR daily rates"
                continue
            close = self._close(pair, code, item)
            if isinstance(close, str):
                left_out[pair] = close
                continue
            result[pair] = Quote(pair, close, source=self.name, as_of=as_of)
        return self.finish_fetch(pairs, result, left_out)

    def _valute(self, body: Any) -> Mapping[str, Any]:
        if not isinstance(body, dict):
            raise ProviderResponseError(self.name, "daily rates body is not a JSON object")
        valute = body.get("Valute")
        if not isinstance(valute, dict):
            raise ProviderResponseError(self.name, "daily rates body has no 'Valute' object")
        return {code.upper(): item for code, item in valute.items() if isinstance(code, str)}

    def _close(self, pair: Pair, code: str, item: Mapping[str, Any]) -> Decimal | str:
        """The close of ``pair`` from ``code``'s item, or why there is none."""
        raw_value, raw_nominal = item.get("Value"), item.get("Nominal")
        value = usable_price(raw_value)
        if value is None:
            return f"{code} Value is not a usable price ({describe_value(raw_value)})"
        nominal = _nominal(raw_nominal)
        if nominal is None:
            return f"{code} Nominal is not a whole number of units ({describe_value(raw_nominal)})"
        close = (
            _CONTEXT.divide(nominal, value)
            if pair.base == RUB
            else _CONTEXT.divide(value, nominal)
        )
        if not in_price_range(close):
            return f"{code} Value {value} per {nominal} gives an unusable price ({close:.3E})"
        return close


def _nominal(value: object) -> Decimal | None:
    if not isinstance(value, Decimal) or not value.is_finite():
        return None
    if value != value.to_integral_value() or not 1 <= value <= MAX_NOMINAL:
        return None
    return value


def _as_of(value: object) -> float | None:
    """``Date`` (ISO 8601 with the Moscow offset) as UTC epoch seconds, if parsable."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        logger.debug("cbr: ignoring an unparsable Date %s", describe_value(value))
        return None
    if when.tzinfo is None:  # the mirror always writes +03:00: a naive one is not its format
        logger.debug("cbr: ignoring a Date without an offset %s", describe_value(value))
        return None
    return when.timestamp()
