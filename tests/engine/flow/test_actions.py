"""Named actions: what compute_quote stores and counts."""

from __future__ import annotations

import json

import pytest

from engine.definitions import Definitions
from engine.flow.actions import ACTIONS, ActionContext, ActionFailedError
from engine.flow.services import FlowServices
from engine.rates.offline import create_offline_rates


class Counter:
    def __init__(self) -> None:
        self.quotes: list[tuple[str, str]] = []

    def count_quote(self, give: str, get: str) -> None:
        self.quotes.append((give, get))


async def test_compute_quote_stores_json_safe_numbers_and_counts(definitions: Definitions) -> None:
    rates = create_offline_rates(definitions.config)
    metrics = Counter()
    data = {"give": "RUB", "get": "USDT", "margin": "2", "amount": "1000"}
    await ACTIONS["compute_quote"](ActionContext(data, FlowServices(rates, metrics=metrics)))
    await rates.close()
    quote = data["quote"]
    assert json.loads(json.dumps(data)) == data  # survives Redis serialisation
    assert (quote["base_rate"], quote["final_rate"], quote["result"]) == (
        "85.30",
        "87.01",
        "11.49",
    )
    assert quote["sources"] == ["static"] and quote["stale"] is False
    assert metrics.quotes == [("RUB", "USDT")]


async def test_compute_quote_without_a_rate_fails_the_action(definitions: Definitions) -> None:
    config = definitions.config.model_copy(update={"providers": {}})
    rates = create_offline_rates(config)
    data = {"give": "RUB", "get": "USDT", "margin": "2", "amount": "1000"}
    with pytest.raises(ActionFailedError) as info:
        await ACTIONS["compute_quote"](ActionContext(data, FlowServices(rates)))
    await rates.close()
    assert info.value.reason == "rates_unavailable"
    assert "quote" not in data
