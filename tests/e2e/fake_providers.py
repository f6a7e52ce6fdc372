"""Loopback fakes of Rapira, APILayer, the CBR mirror and CoinGecko, serving the recorded
bodies of ``tests/data/providers`` (each on its own 127.0.0.1 port, in a background thread).

* Rapira, ``GET /open/market/rates`` (:attr:`FakeProviders.rapira_url`):
  ``rapira_market_rates_composed.json`` (the body recorded for this purpose) with the
  USDT/RUB ``close``/``bidPrice``/``askPrice`` set to :attr:`FakeProviders.usdt_rub`.
* APILayer, ``GET /exchangerates_data/latest?base=RUB&symbols=...`` with the key in the
  ``apikey`` header (:attr:`FakeProviders.apilayer_url`, the prefix included):
  ``apilayer_latest.json`` with ``base``, ``date``, ``timestamp`` (now) and ``rates`` set
  from :attr:`FakeProviders.rub_rates` (crossed when another base is asked); a missing or
  wrong key, an unknown symbol or base get the recorded error bodies; quota headers as the
  gateway sends them (``X-RateLimit-Remaining-Month``: 100 minus the requests received,
  unless set with :meth:`FakeProviders.quota_remaining_month`).
* CBR, ``GET /daily_json.js`` (:attr:`FakeProviders.cbr_url`): ``cbr_daily.json`` with
  ``Value`` of each code in :attr:`FakeProviders.cbr_values` replaced (text, roubles per
  the recorded ``Nominal``: THB per 10, IDR per 10000), ``Date`` set to
  :attr:`FakeProviders.cbr_date` or, when that is ``None``, to the latest 11:30 Moscow
  time not after now, and ``Timestamp`` to now. Codes not set keep the recorded values
  (USD 82.6417, EUR 89.0057, THB 23.8852 per 10, ...).
* CoinGecko, ``GET /api/v3/simple/price?ids=...&vs_currencies=...``
  (:attr:`FakeProviders.coingecko_url`, ``/api/v3`` included): the format of
  ``coingecko_simple_price.json``, ``{"tether": {"rub": 79.21}, ...}``, for the asked ids ×
  currencies found in :attr:`FakeProviders.coingecko_prices` (recorded values by default:
  tether 79.21, the-open-network 110.21 RUB); ids or currencies it does not have are left
  out of the object.

Every number is written as JSON number *text*: recorded numbers keep their digits, and a
price can be any raw JSON text (``"1E+70"``, ``"1e999999999"``, ``"NaN"``, even
``'"85.3"'``, a string), never through a float.

Switches (``name`` is ``"rapira"``, ``"apilayer"``, ``"cbr"`` or ``"coingecko"``):

* :meth:`~FakeProviders.outage` ``(name, mode)``: every request to ``name`` fails until
  :meth:`~FakeProviders.restore`: ``"503"`` an empty 503, ``"drop"`` the connection closed
  without an answer, ``"429"`` the vendor's recorded 429 body (APILayer, CoinGecko; an
  empty one for the others).
* :meth:`~FakeProviders.latency` ``(name, seconds)``: answer late.
* :meth:`~FakeProviders.override_price` ``(name, pair, raw)``: one pair's price as raw
  JSON text (``None`` to clear), for a bad number or a jump; ``pair`` as the bot names it:
  Rapira ``"USDT/RUB"`` (close, bid and ask all become ``raw``); APILayer ``"THB/RUB"``
  (the wire rate "1 RUB = raw THB", whatever base is asked: the pair is then 1/raw); CBR
  ``"THB/RUB"`` (``Value``, roubles per the recorded ``Nominal``); CoinGecko ``"USDT/RUB"``
  (``tether.rub``; codes map to ids as the plugin's defaults do, :data:`COINGECKO_IDS`).
  A plain 50 % jump is as easy through the tables: ``fakes.usdt_rub["close"] = "127.95"``.
* :meth:`~FakeProviders.reject_symbol` ``(code)``: APILayer answers the recorded
  ``invalid_currency_codes`` body (HTTP 200) to any request whose symbols contain ``code``,
  as it does for a code it does not know (the body does not name the code).
* :meth:`~FakeProviders.quota_remaining_month` ``(value)``: APILayer's
  ``X-RateLimit-Remaining-Month`` header (``None``: back to 100 minus requests received).
* :meth:`~FakeProviders.restore` ``(name=None)``: ``name`` (or every fake) back to normal:
  no outage, no latency, no overrides, and for APILayer no rejected symbol and the computed
  quota. The tables (``usdt_rub``, ``rub_rates``, ``cbr_values``, ``coingecko_prices``,
  ``cbr_date``) are the test's own and are not reset.
* :meth:`~FakeProviders.calls` ``(name)``: the requests ``name`` received, in order.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from tests.e2e.loopback import LoopbackThread

DATA = Path(__file__).resolve().parents[1] / "data" / "providers"
API_KEY = "test-key"
APILAYER_PREFIX = "/exchangerates_data"
COINGECKO_PREFIX = "/api/v3"
NAMES = ("rapira", "apilayer", "cbr", "coingecko")

# "1 RUB = x" as APILayer publishes them (about six significant digits), close to the
# static demo rates of config.yaml: USD/RUB 1/0.01227 = 81.4996, EUR/RUB 94.1974,
# THB/RUB 2.68528, AED/RUB 22.1897, ZAR/RUB 4.51202, IDR/RUB 0.00565419.
RUB_RATES: dict[str, str] = {
    "USD": "0.01227",
    "EUR": "0.010616",
    "THB": "0.3724",
    "AED": "0.045066",
    "ZAR": "0.22163",
    "IDR": "176.86",
    "GBP": "0.009671",
    "JPY": "1.8431",
}
USDT_RUB = {"close": "85.30", "bid": "85.20", "ask": "85.40"}
# The coingecko plugin's default coin ids, for override_price("coingecko", "USDT/RUB", ...).
COINGECKO_IDS = {
    "USDT": "tether",
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "TON": "the-open-network",
}
MOSCOW = timezone(timedelta(hours=3))
Outage = Literal["503", "drop", "429"]
_RECORDED_429 = {"apilayer": "apilayer_error_429.json", "coingecko": "coingecko_error_429.json"}


@dataclass(frozen=True)
class Received:
    """One request a fake provider received."""

    at: float
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class _Fake:
    def __init__(self, name: str) -> None:
        self.name = name
        self.outage: Outage | None = None
        self.latency = 0.0
        self.overrides: dict[str, str] = {}  # pair text -> raw JSON text
        self.received: list[Received] = []


class _Raw(str):
    """A JSON value kept as its text (a recorded number, or one a test set): never a float."""

    __slots__ = ()


class FakeProviders:
    """The four fakes, each on its own loopback port."""

    def __init__(self, *, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.usdt_rub = dict(USDT_RUB)
        self.rub_rates = dict(RUB_RATES)
        self.cbr_values: dict[str, str] = {}
        self.cbr_date: str | None = None
        self.coingecko_prices: dict[str, dict[str, str]] = {
            "tether": {"rub": "79.21"},
            "the-open-network": {"rub": "110.21"},
        }
        self._lock = threading.Lock()
        self._fakes = {name: _Fake(name) for name in NAMES}
        self._rejected: set[str] = set()
        self._remaining_month: int | None = None
        self._thread = LoopbackThread("fake-providers")
        self.rapira_url = ""
        self.apilayer_url = ""
        self.cbr_url = ""
        self.coingecko_url = ""

    def start(self) -> FakeProviders:
        self._thread.start()
        rapira = web.Application()
        rapira.router.add_get("/open/market/rates", self._rapira_rates)
        rapira.router.add_route("*", "/{tail:.*}", self._rapira_other)
        apilayer = web.Application()
        apilayer.router.add_get(f"{APILAYER_PREFIX}/latest", self._apilayer_latest)
        apilayer.router.add_route("*", "/{tail:.*}", self._apilayer_other)
        cbr = web.Application()
        cbr.router.add_get("/daily_json.js", self._cbr_daily)
        cbr.router.add_route("*", "/{tail:.*}", self._other("cbr"))
        coingecko = web.Application()
        coingecko.router.add_get(f"{COINGECKO_PREFIX}/simple/price", self._coingecko_price)
        coingecko.router.add_route("*", "/{tail:.*}", self._other("coingecko"))
        self.rapira_url = self._thread.serve(rapira)
        self.apilayer_url = self._thread.serve(apilayer) + APILAYER_PREFIX
        self.cbr_url = self._thread.serve(cbr)
        self.coingecko_url = self._thread.serve(coingecko) + COINGECKO_PREFIX
        return self

    def stop(self) -> None:
        self._thread.stop()

    # -- switches ---------------------------------------------------------------------------

    def outage(self, name: str, mode: Outage = "503") -> None:
        """``name`` fails every request until :meth:`restore` (see the module docstring)."""
        with self._lock:
            self._fakes[name].outage = mode

    def restore(self, name: str | None = None) -> None:
        """``name`` (every fake when ``None``) back to normal; the rate tables stay."""
        with self._lock:
            for fake in self._fakes.values():
                if name is None or fake.name == name:
                    fake.outage = None
                    fake.latency = 0.0
                    fake.overrides.clear()
            if name in (None, "apilayer"):
                self._rejected.clear()
                self._remaining_month = None

    def latency(self, name: str, seconds: float) -> None:
        with self._lock:
            self._fakes[name].latency = seconds

    def override_price(self, name: str, pair: str, raw: str | None) -> None:
        """``pair``'s price on ``name`` becomes the raw JSON text ``raw`` (``None``: clear).

        Where the text goes for each fake is in the module docstring.
        """
        base, _, quote = pair.upper().partition("/")
        assert base and quote, f"{pair!r} is not BASE/QUOTE"
        if name in ("apilayer", "cbr"):
            assert quote == "RUB", f"{name} overrides are X/RUB pairs, not {pair}"
        if name == "coingecko":
            assert base in COINGECKO_IDS, f"no CoinGecko id for {base}"
        with self._lock:
            overrides = self._fakes[name].overrides
            if raw is None:
                overrides.pop(f"{base}/{quote}", None)
            else:
                overrides[f"{base}/{quote}"] = raw

    def reject_symbol(self, code: str, rejected: bool = True) -> None:
        """APILayer answers ``invalid_currency_codes`` whenever the symbols contain ``code``."""
        with self._lock:
            if rejected:
                self._rejected.add(code.upper())
            else:
                self._rejected.discard(code.upper())

    def quota_remaining_month(self, value: int | None) -> None:
        """APILayer's ``X-RateLimit-Remaining-Month`` (``None``: 100 minus requests)."""
        with self._lock:
            self._remaining_month = value

    def calls(self, name: str) -> list[Received]:
        with self._lock:
            return list(self._fakes[name].received)

    # -- handlers ---------------------------------------------------------------------------

    async def _enter(self, name: str, request: web.Request) -> web.Response | None:
        """Record the request, apply latency and outage; a response ends the request early."""
        with self._lock:
            fake = self._fakes[name]
            fake.received.append(
                Received(
                    time.monotonic(),
                    request.method,
                    request.path,
                    dict(request.query),
                    dict(request.headers),
                )
            )
            latency, outage = fake.latency, fake.outage
        if latency:
            await asyncio.sleep(latency)
        if outage == "drop":
            assert request.transport is not None
            request.transport.close()  # the client sees the connection closed, no answer
            return web.Response(status=503)
        if outage == "503":
            return web.Response(status=503, body=b"")
        if outage == "429":
            if name in _RECORDED_429:
                return _recorded(_RECORDED_429[name], 429)
            return web.Response(status=429, body=b"")
        return None

    def _overrides(self, name: str) -> dict[str, str]:
        with self._lock:
            return dict(self._fakes[name].overrides)

    async def _rapira_rates(self, request: web.Request) -> web.Response:
        early = await self._enter("rapira", request)
        if early is not None:
            return early
        body = _load("rapira_market_rates_composed.json")
        overrides = self._overrides("rapira")
        for item in body["data"]:
            symbol = item.get("symbol")
            if symbol == "USDT/RUB":
                item["close"] = _Raw(self.usdt_rub["close"])
                item["bidPrice"] = _Raw(self.usdt_rub["bid"])
                item["askPrice"] = _Raw(self.usdt_rub["ask"])
            if symbol in overrides:
                raw = _Raw(overrides[symbol])
                item["close"] = item["bidPrice"] = item["askPrice"] = raw
        return _json(body)

    async def _rapira_other(self, request: web.Request) -> web.Response:
        await self._enter("rapira", request)
        return web.Response(status=404, text="404 page not found")

    async def _apilayer_other(self, request: web.Request) -> web.Response:
        await self._enter("apilayer", request)
        return _recorded("apilayer_error_404_no_route.json", 404)

    def _other(self, name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            # Neither vendor's 404 body is recorded: a plain one.
            await self._enter(name, request)
            return web.Response(status=404, text="404: Not Found")

        return handler

    async def _apilayer_latest(self, request: web.Request) -> web.Response:
        early = await self._enter("apilayer", request)
        if early is not None:
            return early
        key = request.headers.get("apikey")
        if key is None:
            return _recorded("apilayer_error_401_missing_key.json", 401)
        if key != self.api_key:
            return _recorded("apilayer_error_401_invalid_key.json", 401)
        with self._lock:
            used = len(self._fakes["apilayer"].received)
            rejected = set(self._rejected)
            remaining = self._remaining_month
        remaining_month = max(100 - used, 0) if remaining is None else remaining
        quota = {
            "X-RateLimit-Limit-Month": "100",
            "X-RateLimit-Remaining-Month": str(remaining_month),
            "X-RateLimit-Limit-Day": "100",
            "X-RateLimit-Remaining-Day": str(max(100 - used, 0)),
        }
        table = {"RUB": Decimal(1), **{k: Decimal(v) for k, v in self.rub_rates.items()}}
        base = request.query.get("base", "EUR").upper()
        symbols = [s for s in request.query.get("symbols", "").upper().split(",") if s]
        if base not in table:
            return _recorded("apilayer_error_invalid_base_currency.json", 200, quota)
        if any(s not in table or s in rejected for s in symbols):
            return _recorded("apilayer_error_invalid_currency_codes.json", 200, quota)
        overrides = self._overrides("apilayer")
        rates: dict[str, Any] = {}
        for symbol in symbols or sorted(table):
            if f"{symbol}/RUB" in overrides:
                rates[symbol] = _Raw(overrides[f"{symbol}/RUB"])
            elif base == "RUB" and symbol != "RUB":
                rates[symbol] = _Raw(self.rub_rates[symbol])
            else:
                rates[symbol] = _Raw(_cross(table, base, symbol))
        body = _load("apilayer_latest.json")
        now = time.time()
        body.update(
            base=base,
            date=time.strftime("%Y-%m-%d", time.gmtime(now)),
            timestamp=_Raw(str(int(now))),
            rates=rates,
        )
        return _json(body, headers=quota)

    async def _cbr_daily(self, request: web.Request) -> web.Response:
        early = await self._enter("cbr", request)
        if early is not None:
            return early
        body = _load("cbr_daily.json")
        values = {
            **self.cbr_values,
            **{pair.partition("/")[0]: raw for pair, raw in self._overrides("cbr").items()},
        }
        for code, raw in values.items():
            item = body["Valute"].get(code)
            assert item is not None, f"cbr_daily.json has no {code}: the fake adds none"
            item["Value"] = _Raw(raw)
        now = datetime.now(MOSCOW)
        body["Date"] = self.cbr_date or _latest_cbr_date(now).isoformat()
        body["Timestamp"] = now.replace(microsecond=0).isoformat()
        return _json(body, content_type="application/javascript")

    async def _coingecko_price(self, request: web.Request) -> web.Response:
        early = await self._enter("coingecko", request)
        if early is not None:
            return early
        ids = [s for s in request.query.get("ids", "").split(",") if s]
        currencies = [s for s in request.query.get("vs_currencies", "").lower().split(",") if s]
        prices = {coin: dict(row) for coin, row in self.coingecko_prices.items()}
        for pair, raw in self._overrides("coingecko").items():
            base, _, quote = pair.partition("/")
            prices.setdefault(COINGECKO_IDS[base], {})[quote.lower()] = raw
        body: dict[str, Any] = {}
        for coin in ids:
            row = {c: _Raw(prices[coin][c]) for c in currencies if c in prices.get(coin, {})}
            if row:
                body[coin] = row
        return _json(body)


def _latest_cbr_date(now: datetime) -> datetime:
    """The latest 11:30 Moscow time not after ``now``: the moment a CBR ``Date`` names."""
    today = now.replace(hour=11, minute=30, second=0, microsecond=0)
    return today if today <= now else today - timedelta(days=1)


def _cross(table: dict[str, Decimal], base: str, symbol: str) -> str:
    return f"{(table[symbol] / table[base]):.10g}"


def _load(name: str) -> Any:
    """A recorded body, every number kept as its recorded text."""
    return json.loads(
        (DATA / name).read_text(encoding="utf-8"),
        parse_float=_Raw,
        parse_int=_Raw,
        parse_constant=_Raw,
    )


_PLACEHOLDER = re.compile(r'"@@raw(\d+)@@"')


def _dumps(body: Any) -> bytes:
    """JSON of ``body`` with every :class:`_Raw` written verbatim."""
    raws: list[str] = []

    def mark(value: Any) -> Any:
        if isinstance(value, _Raw):
            raws.append(str(value))
            return f"@@raw{len(raws) - 1}@@"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body), ensure_ascii=False)
    return _PLACEHOLDER.sub(lambda m: raws[int(m.group(1))], text).encode("utf-8")


def _json(
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> web.Response:
    return web.Response(status=200, body=_dumps(body), content_type=content_type, headers=headers)


def _recorded(name: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=(DATA / name).read_bytes(),
        content_type="application/json",
        headers=headers,
    )
