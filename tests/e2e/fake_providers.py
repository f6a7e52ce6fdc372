"""Loopback fakes of Rapira and APILayer serving the recorded bodies of ``tests/data/providers``.

* Rapira, ``GET /open/market/rates``: ``rapira_market_rates_composed.json`` (the body
  recorded for this purpose) with the USDT/RUB ``close``/``askPrice``/``bidPrice`` set to
  :attr:`FakeProviders.usdt_rub`.
* APILayer, ``GET /exchangerates_data/latest?base=RUB&symbols=...`` with the key in the
  ``apikey`` header: ``apilayer_latest.json`` with ``base``, ``date``, ``timestamp`` and
  ``rates`` set from :data:`RUB_RATES` (crossed when another base is asked); a missing or
  wrong key, an unknown symbol or base get the recorded error bodies; quota headers as the
  gateway sends them.

Switches: :meth:`FakeProviders.outage` (``"503"``: an empty 503, or ``"drop"``: the
connection is closed without an answer), :meth:`FakeProviders.restore`,
:meth:`FakeProviders.latency`; :meth:`FakeProviders.calls` counts what each one received.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from loopback import LoopbackThread

DATA = Path(__file__).resolve().parents[1] / "data" / "providers"
API_KEY = "test-key"
APILAYER_PREFIX = "/exchangerates_data"

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
Outage = Literal["503", "drop"]


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
        self.received: list[Received] = []


class FakeProviders:
    """Both fakes, each on its own loopback port."""

    def __init__(self, *, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.usdt_rub = dict(USDT_RUB)
        self.rub_rates = dict(RUB_RATES)
        self._lock = threading.Lock()
        self._fakes = {"rapira": _Fake("rapira"), "apilayer": _Fake("apilayer")}
        self._thread = LoopbackThread("fake-providers")
        self.rapira_url = ""
        self.apilayer_url = ""

    def start(self) -> FakeProviders:
        self._thread.start()
        rapira = web.Application()
        rapira.router.add_get("/open/market/rates", self._rapira_rates)
        rapira.router.add_route("*", "/{tail:.*}", self._rapira_other)
        apilayer = web.Application()
        apilayer.router.add_get(f"{APILAYER_PREFIX}/latest", self._apilayer_latest)
        apilayer.router.add_route("*", "/{tail:.*}", self._apilayer_other)
        self.rapira_url = self._thread.serve(rapira)
        self.apilayer_url = self._thread.serve(apilayer) + APILAYER_PREFIX
        return self

    def stop(self) -> None:
        self._thread.stop()

    # -- switches ---------------------------------------------------------------------------

    def outage(self, name: str, mode: Outage = "503") -> None:
        """``name`` ("rapira" / "apilayer") fails every request until :meth:`restore`."""
        with self._lock:
            self._fakes[name].outage = mode

    def restore(self, name: str | None = None) -> None:
        with self._lock:
            for fake in self._fakes.values():
                if name is None or fake.name == name:
                    fake.outage = None
                    fake.latency = 0.0

    def latency(self, name: str, seconds: float) -> None:
        with self._lock:
            self._fakes[name].latency = seconds

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
        return None

    async def _rapira_rates(self, request: web.Request) -> web.Response:
        early = await self._enter("rapira", request)
        if early is not None:
            return early
        body = json.loads((DATA / "rapira_market_rates_composed.json").read_text(encoding="utf-8"))
        for item in body["data"]:
            if item.get("symbol") == "USDT/RUB":
                item["close"] = float(self.usdt_rub["close"])
                item["bidPrice"] = float(self.usdt_rub["bid"])
                item["askPrice"] = float(self.usdt_rub["ask"])
        return web.json_response(body)

    async def _rapira_other(self, request: web.Request) -> web.Response:
        await self._enter("rapira", request)
        return web.Response(status=404, text="404 page not found")

    async def _apilayer_other(self, request: web.Request) -> web.Response:
        await self._enter("apilayer", request)
        return _recorded("apilayer_error_404_no_route.json", 404)

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
        quota = {
            "X-RateLimit-Limit-Month": "100",
            "X-RateLimit-Remaining-Month": str(max(100 - used, 0)),
            "X-RateLimit-Limit-Day": "100",
            "X-RateLimit-Remaining-Day": str(max(100 - used, 0)),
        }
        table = {"RUB": Decimal(1), **{k: Decimal(v) for k, v in self.rub_rates.items()}}
        base = request.query.get("base", "EUR").upper()
        symbols = [s for s in request.query.get("symbols", "").upper().split(",") if s]
        if base not in table:
            return _recorded("apilayer_error_invalid_base_currency.json", 200, quota)
        if any(s not in table for s in symbols):
            return _recorded("apilayer_error_invalid_currency_codes.json", 200, quota)
        rates: dict[str, Any] = {}
        for symbol in symbols or sorted(table):
            rate = (
                self.rub_rates[symbol]
                if base == "RUB" and symbol != "RUB"
                else _cross(table, base, symbol)
            )
            rates[symbol] = float(rate)
        body = json.loads((DATA / "apilayer_latest.json").read_text(encoding="utf-8"))
        now = time.time()
        body.update(
            base=base,
            date=time.strftime("%Y-%m-%d", time.gmtime(now)),
            timestamp=int(now),
            rates=rates,
        )
        return web.json_response(body, headers=quota)


def _cross(table: dict[str, Decimal], base: str, symbol: str) -> str:
    return f"{(table[symbol] / table[base]):.10g}"


def _recorded(name: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=(DATA / name).read_bytes(),
        content_type="application/json",
        headers=headers,
    )
