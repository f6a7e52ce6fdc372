"""Test doubles for the rates layer: a config mirroring config.yaml, a clock, a provider."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from engine.config.models import AppConfig
from providers.base import Pair, ProviderConfig, Quote
from providers.errors import ProviderError, ProviderResponseError


class MeteredConfig(ProviderConfig):
    """A provider block with a monthly request budget (like ApiLayerConfig)."""

    monthly_budget: int | None = None


def _currency(code: str, kind: str, decimals: int = 2) -> dict[str, Any]:
    return {"code": code, "kind": kind, "name": {"ru": code, "en": code}, "decimals": decimals}


# currencies / directions / routing / cache / preload of the shipped config.yaml
CONFIG: dict[str, Any] = {
    "currencies": [
        _currency("RUB", "fiat"),
        _currency("USDT", "crypto"),
        _currency("USD", "fiat"),
        _currency("EUR", "fiat"),
        _currency("THB", "fiat"),
        _currency("AED", "fiat"),
        _currency("ZAR", "fiat"),
        _currency("IDR", "fiat", decimals=0),
    ],
    "directions": {
        "RUB": ["USDT", "USD", "EUR", "THB", "AED", "ZAR", "IDR"],
        "USDT": ["RUB", "USD", "EUR", "THB", "AED", "ZAR", "IDR"],
    },
    "routing": {
        "pivot": "RUB",
        "rules": [
            {"pairs": ["USDT/RUB"], "provider": "rapira", "price": "close"},
            {
                "pairs": ["USD/RUB", "EUR/RUB", "THB/RUB", "AED/RUB", "ZAR/RUB", "IDR/RUB"],
                "provider": "apilayer",
                "price": "close",
            },
        ],
        "price_order": ["RUB", "USD", "EUR", "AED", "THB", "ZAR", "IDR", "USDT"],
        "rate_decimals": 2,
        "min_significant": 4,
        "rounding": "ROUND_HALF_UP",
    },
    "cache": {"max_size": 256, "ttl_seconds": 60, "max_stale_seconds": 900},
    "preload": {
        "enabled": True,
        "interval_seconds": 60,
        "pairs": ["USDT/RUB", "USD/RUB", "EUR/RUB", "THB/RUB", "AED/RUB", "ZAR/RUB", "IDR/RUB"],
    },
}

RAPIRA = {
    Pair("USDT", "RUB"): Quote(
        Pair("USDT", "RUB"), Decimal("85.30"), bid=Decimal("85.20"), ask=Decimal("85.40")
    )
}
APILAYER = {
    Pair(code, "RUB"): Quote(Pair(code, "RUB"), Decimal(rate))
    for code, rate in [
        ("USD", "81.50"),
        ("EUR", "94.20"),
        ("THB", "2.6850"),
        ("AED", "22.19"),
        ("ZAR", "4.5120"),
        ("IDR", "0.005654"),
    ]
}


def make_config(*, budget: int | None = None, **sections: Any) -> AppConfig:
    """The shipped config's sections, with ``sections`` replacing whole top-level keys."""
    providers = {
        "rapira": ProviderConfig(kind="rapira"),
        "apilayer": MeteredConfig(kind="apilayer", monthly_budget=budget),
        "unused": ProviderConfig(kind="static"),
    }
    return AppConfig.model_validate({**CONFIG, "providers": providers, **sections})


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeProvider:
    """Serves fixed quotes; records every call; can fail or hold calls at a gate."""

    def __init__(self, name: str, quotes: Mapping[Pair, Quote]) -> None:
        self.name = name
        self.quotes = dict(quotes)
        self.calls: list[tuple[Pair, ...]] = []
        self.error: ProviderError | None = None
        self.gate: asyncio.Event | None = None
        self.clock: FakeClock | None = None  # advanced by ``latency`` during each call
        self.latency = 0.0

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        self.calls.append(tuple(pairs))
        if self.gate is not None:
            await self.gate.wait()
        if self.clock is not None:
            self.clock.advance(self.latency)
        if self.error is not None:
            raise self.error
        missing = [p for p in pairs if p not in self.quotes]
        if missing:
            raise ProviderResponseError(self.name, f"unknown pairs {missing}")
        return {p: self.quotes[p] for p in pairs}

    async def close(self) -> None:
        return None
