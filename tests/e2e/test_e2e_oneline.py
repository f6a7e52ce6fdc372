"""One-line quotes end to end: the real process, the fake Telegram, fake providers."""

from __future__ import annotations

from fake_telegram import FakeTelegram
from harness import ADMINS, BotProcess, Person


async def test_q_gives_the_card(tg: FakeTelegram, bot: BotProcess) -> None:
    # As the dialog's RUB → USDT quote (test_e2e_quotes.py): 85.30 × 1.02 → 87.01 RUB;
    # 1000 / 87.01 → 11.49 USDT.
    admin = Person(tg, ADMINS[1])
    admin.send("/q 1000 rub usdt 2")
    card = await admin.sees("Расчёт обмена")
    assert "Курс биржи: 1 USDT = 85,30 RUB" in card.norm
    assert "Наценка: 2 %" in card.norm
    assert "Курс для клиента: 1 USDT = 87,01 RUB" in card.norm
    assert "Клиент отдаёт: 1 000,00 RUB" in card.norm
    assert "Клиент получает: 11,49 USDT" in card.norm
    assert "Источник: rapira" in card.norm
    # the dialog's own card: its buttons work as after the dialog
    assert card.button_texts == ["✏️ Наценка", "✏️ Сумма", "⇄ Обратный обмен", "📤 Клиенту · RU",
                                 "📤 Клиенту · EN", "← Назад", "🔄 Новый расчёт"]
    admin.send("1000 руб в xyz")
    refusal = await admin.sees("Не знаю «xyz»")
    assert refusal.norm.startswith("Понял: 1000 RUB → …. Не знаю «xyz»")
    assert admin.refusals() == []
