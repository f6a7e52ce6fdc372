"""One-line quotes end to end: the real process, the fake Telegram, fake providers."""

from __future__ import annotations

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, CARD_BUTTONS, BotProcess, Person


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
    assert card.button_texts == CARD_BUTTONS
    admin.send("1000 руб в xyz")
    refusal = await admin.sees("Не знаю «xyz»")
    assert refusal.norm.startswith("Понял: 1000 RUB → …. Не знаю «xyz»")
    assert admin.refusals() == []


async def test_english_one_line_and_three_lines_not_understood(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    admin = Person(tg, ADMINS[38], language="en")
    admin.send("usdt 500 → thb 1.5")
    card = await admin.sees("Exchange quote")
    assert "Client gives: 500.00 USDT · ✍️ fixed" in card.norm
    assert "Margin: 1.5%" in card.norm
    for line, reply in (
        ("/q 1000 rub", "Understood: 1000 RUB → …. The currency the client gets is missing."),
        ("/q 1000 rub xyz", "Understood: 1000 RUB → …. “xyz” is not a currency I know"),
        ("/q 1000 usd eur", "Understood: 1000 USD → EUR. No such direction"),
    ):
        admin.send(line)
        refusal = await admin.sees(reply)
        assert "Example:" in refusal.norm
    admin.send("receive 500 usdt for rub 2")
    received = await admin.sees("Client gets: 500.00 USDT · ✍️ fixed")
    assert "Client gives: 43,505.00 RUB" in received.norm  # 500 × 87.01, rounded up
    assert admin.refusals() == []
