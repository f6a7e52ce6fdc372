"""Offline rates (check, preview, demo): the static provider of config.yaml only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rates_fakes import make_config

from engine.rates.errors import RatesUnavailableError
from engine.rates.offline import create_offline_rates
from providers.static import StaticConfig

STATIC = StaticConfig.model_validate(
    {
        "kind": "static",
        "rates": {
            "USDT/RUB": {"close": "85.30", "bid": "85.20", "ask": "85.40"},
            "THB/RUB": "2.6850",
        },
    }
)


async def test_quotes_from_static_rates_and_names_static_as_source() -> None:
    config = make_config(directions={"RUB": ["USDT"], "USDT": ["THB"]})
    config = config.model_copy(update={"providers": {**config.providers, "static": STATIC}})
    rates = create_offline_rates(config)
    try:
        q, rate = await rates.quote("RUB", "USDT", Decimal(2), Decimal(1000))
        assert (q.final_rate, q.result, rate.sources) == (
            Decimal("87.01"),
            Decimal("11.49"),
            ("static",),
        )
        assert (await rates.get_rate("USDT", "THB")).sources == ("static",)
    finally:
        await rates.close()


async def test_without_a_static_block_every_rate_is_unavailable() -> None:
    rates = create_offline_rates(make_config())
    with pytest.raises(RatesUnavailableError, match="no static rate"):
        await rates.get_rate("RUB", "USDT")
    await rates.close()
