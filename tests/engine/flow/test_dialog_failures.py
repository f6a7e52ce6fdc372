"""Rates failures in the dialog: a clear screen, Retry, and never a made-up number."""

from __future__ import annotations

from flow_helpers import FlakyProvider, to_amount

from engine.definitions import Definitions
from engine.rates.service import RateService
from providers.static import StaticProvider


def flaky_service(definitions: Definitions) -> tuple[RateService, FlakyProvider]:
    config = definitions.config
    static = config.providers["static"]
    provider = FlakyProvider(StaticProvider("static", static))
    return RateService(config.offline(), {"static": provider}), provider


async def test_unavailable_rate_shows_retry_then_recovers(make_chat, definitions) -> None:
    rates, provider = flaky_service(definitions)
    chat = make_chat(rates=rates)
    provider.down = True
    await to_amount(chat, "RUB", "USDT")
    text = await chat.send("1000")
    assert "Курс сейчас недоступен" in text
    assert "Клиент получает" not in text
    assert "🔁 Повторить" in chat.transcript[-1]
    # still down: Retry stays on the same screen
    assert "Курс сейчас недоступен" in await chat.click("🔁 Повторить")
    provider.down = False
    text = await chat.click("🔁 Повторить")
    assert "Клиент получает: <b>11,49 USDT</b>" in text


async def test_back_from_unavailable_returns_to_amount(make_chat, definitions) -> None:
    rates, provider = flaky_service(definitions)
    chat = make_chat(rates=rates)
    provider.down = True
    await to_amount(chat, "RUB", "USDT")
    await chat.send("1000")
    assert "Введите сумму" in await chat.click("← Назад")


async def test_cancel_from_unavailable(make_chat, definitions) -> None:
    rates, provider = flaky_service(definitions)
    chat = make_chat(rates=rates)
    provider.down = True
    await to_amount(chat, "RUB", "USDT")
    await chat.send("1000")
    assert "Расчёт отменён" in await chat.click("✖️ Отмена")
