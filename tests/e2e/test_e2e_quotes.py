"""The exchange dialog end to end: the real bot process, the fake Telegram, fake providers.

Fake rates (see fake_providers.py): Rapira USDT/RUB close 85.30; APILayer base RUB:
THB 0.3724, IDR 176.86, USD 0.01227. Quote rules (README, engine/rates/quote.py): the final
rate is rounded toward the desk (up when the client buys the asset, down when it sells)
with enough decimals that one unit of the last one is ≤ 0.015 % of the market rate (both
rates of a card share them), the result is computed from the displayed final rate and
rounded down.
"""

from __future__ import annotations

import re

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, CARD_BUTTONS, BotProcess, Person


async def test_rub_to_usdt(tg: FakeTelegram, bot: BotProcess) -> None:
    # The client gives RUB, buys USDT: final = 85.30 × 1.02 = 87.006 → up → 87.01;
    # 1000 / 87.01 = 11.4929… → down → 11.49 USDT.
    admin = Person(tg, ADMINS[1])
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert "Клиент получает: 11,49 USDT" in card.norm
    assert "Курс для клиента: 1 USDT = 87,01 RUB" in card.norm
    assert "Курс биржи: 1 USDT = 85,30 RUB" in card.norm
    assert "Клиент отдаёт: 1 000,00 RUB" in card.norm
    assert re.search(r"Источник: rapira, курс получен (только что|\d+ \w+ назад)\.$", card.norm), (
        card.norm
    )
    assert card.button_texts == CARD_BUTTONS
    assert "1 USDT = 87,01 RUB" in card.entity_texts(
        "bold"
    )  # the client rate is bold, as the template says
    await admin.all_clicks_answered()
    assert admin.refusals() == []


async def test_usdt_to_thb_crosses_through_rub_with_a_preset_margin(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    # USDT/THB = 85.30 / (1 / 0.3724) = 31.76572; 0.001 is 0.0031 % of it, 0.01 would be
    # 0.031 %: 3 decimals, shown 31.766. The client sells USDT: final = 31.76572 × 0.985
    # = 31.2892342 → down → 31.289; 100 × 31.289 = 3128.90 THB.
    admin = Person(tg, ADMINS[2])
    card = await admin.quote("USDT", "THB", margin="", amount="100", margin_button=r"^1,5 %$")
    assert "Курс биржи: 1 USDT = 31,766 THB" in card.norm
    assert "Наценка: 1,5 %" in card.norm
    assert "Курс для клиента: 1 USDT = 31,289 THB" in card.norm
    assert "Клиент отдаёт: 100,00 USDT" in card.norm
    assert "Клиент получает: 3 128,90 THB" in card.norm
    assert "Источник: rapira + apilayer" in card.norm
    await admin.all_clicks_answered()
    assert admin.refusals() == []


async def test_rub_to_idr_in_english(tg: FakeTelegram, bot: BotProcess) -> None:
    # IDR/RUB = 1 / 176.86 = 0.0056541897… → 7 decimals (0.0000001 is 0.0018 % of it),
    # shown 0.0056542. The client buys IDR: final = 0.0056541897 × 1.02 = 0.0057672735
    # → up → 0.0057673; 10000 / 0.0057673 = 1733913.61 → down (IDR has no decimals)
    # → 1,733,913 IDR.
    admin = Person(tg, ADMINS[3], language="en")
    card = await admin.quote("RUB", "IDR", margin="2", amount="10000")
    assert "Market rate: 1 IDR = 0.0056542 RUB" in card.norm
    assert "Client rate: 1 IDR = 0.0057673 RUB" in card.norm
    assert "Client gives: 10,000.00 RUB" in card.norm
    assert "Client gets: 1,733,913 IDR" in card.norm
    assert re.search(r"Source: apilayer, rate fetched (just now|\d+ \w+ ago)\.$", card.norm), (
        card.norm
    )
    await admin.all_clicks_answered()
    assert admin.refusals() == []


async def test_bad_inputs_warn_and_the_dialog_stays(tg: FakeTelegram, bot: BotProcess) -> None:
    admin = Person(tg, ADMINS[4])
    await admin.open_step("margin")
    for typed, warning in [
        ("abc", "⚠️ «abc» — не число."),
        ("11", "⚠️ Слишком много: максимум 10 %."),
        ("1e309", "⚠️ «1e309» — не число."),
    ]:
        admin.send(typed)
        screen = await admin.sees(warning)
        assert admin.screens["margin"] in screen.norm  # still the margin step
    admin.send("2")
    await admin.sees_screen("amount")
    for typed, warning in [
        ("<b>1</b>", "⚠️ «<b>1</b>» — не число."),  # shown as typed: escaped, not bold
        ("1e309", "⚠️ «1e309» — не число."),
        ("0", "⚠️ Слишком мало: минимум 1 RUB."),
    ]:
        admin.send(typed)
        screen = await admin.sees(warning)
        assert admin.screens["amount"] in screen.norm
    admin.send("1000")
    card = await admin.sees_screen("result")
    assert "Клиент получает: 11,49 USDT" in card.norm
    assert admin.refusals() == []


async def test_navigation_buttons_and_every_click_answered(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    admin = Person(tg, ADMINS[5])
    screen = await admin.open_step("target")
    admin.click(screen, "Назад")
    screen = await admin.sees_screen("source")
    admin.click(screen, r"\bUSDT$")
    screen = await admin.sees(re.compile(r"Клиент отдаёт 💵 USDT"))
    admin.click(screen, "Отмена")
    screen = await admin.sees_screen("cancelled")
    admin.click(screen, "Новый расчёт")
    screen = await admin.sees_screen("source")
    admin.click(screen, r"\bRUB$")
    await admin.sees_screen("target")
    await admin.all_clicks_answered()
    assert len(admin.clicked) == 6
    assert admin.refusals() == []


async def test_new_quote_from_the_result_keeps_the_card(tg: FakeTelegram, bot: BotProcess) -> None:
    admin = Person(tg, ADMINS[6])
    card = await admin.quote("RUB", "USDT", margin="1", amount="500")
    admin.click(card, "Новый расчёт")
    await admin.sees_screen("source")
    kept = next(m for m in tg.bot_messages(admin.user_id) if m.message_id == card.message_id)
    assert admin.screens["result"] in kept.norm  # the quote stays in the chat
    await admin.all_clicks_answered()
    assert admin.refusals() == []


async def test_an_amount_typed_on_the_card_requotes_below_it(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    # 5000 / 87.01 = 57.4646… → down → 57.46 USDT, same direction and 2 % margin.
    admin = Person(tg, ADMINS[7])
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    admin.send("5000")
    new = await admin.sees("Клиент отдаёт: 5 000,00 RUB")
    assert new.message_id != card.message_id
    assert "Наценка: 2 %" in new.norm and "Клиент получает: 57,46 USDT" in new.norm
    assert new.button_texts == CARD_BUTTONS
    kept = next(m for m in tg.bot_messages(admin.user_id) if m.message_id == card.message_id)
    assert kept.text == card.text and kept.reply_markup is None  # text as it was, no buttons
    admin.send("abc")
    hint = await admin.sees("⚠️ «abc» — не число.")
    assert hint.message_id != new.message_id
    assert "Клиент отдаёт: 5 000,00 RUB" in hint.norm  # the last quote again, under the hint
    again = next(m for m in tg.bot_messages(admin.user_id) if m.message_id == new.message_id)
    assert again.text == new.text
    assert admin.refusals() == []
