"""The result card's buttons: change the margin or the amount (and come back to a new card),
swap the direction for the same money, send the client's quote, and quote from the amount
the client receives. A double tap on any of them acts once."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

from aiogram.types import Message
from flow_helpers import Chat, button, walk_to
from test_dialog_double_tap import BACK, assert_card_kept, tap

CHANGE_MARGIN, CHANGE_AMOUNT, SWAP = "✏️ Наценка", "✏️ Сумма", "⇄ Обратный обмен"
FOR_CLIENT_RU, FOR_CLIENT_EN = "📤 Клиенту · RU", "📤 Клиенту · EN"
FIX_RECEIVE, FIX_GIVE = "↔️ Ввести сумму получения", "↔️ Ввести сумму отдачи"


def amounts(text: str) -> tuple[str, str]:
    """(what the client gives, what they get) as the card writes them (plain spaces)."""
    text = text.replace("\xa0", " ").replace("\u202f", " ")
    gives = re.search(r"Клиент отдаёт: <b>([^<]+)</b>", text)
    gets = re.search(r"Клиент получает: <b>([^<]+)</b>", text)
    assert gives and gets, text
    return gives.group(1), gets.group(1)


def number(shown: str) -> Decimal:
    """'87 010,00 RUB' → Decimal('87010.00')."""
    return Decimal(re.sub(r"[^\d,]", "", shown).replace(",", "."))


def client_rate(text: str) -> Decimal:
    found = re.search(r"Курс для клиента: <b>1 USDT = ([\d\s ,]+) RUB</b>", text)
    assert found, text
    return number(found.group(1))


async def on_card(chat: Chat) -> Message:
    await walk_to(chat, "result")  # RUB → USDT, 2 %, 1000 RUB
    card = chat.window()
    assert "Клиент получает" in (card.text or "")
    return card


async def test_change_margin_keeps_the_rest_and_requotes_on_a_new_card(make_chat) -> None:
    chat = make_chat()
    card = await on_card(chat)
    margin = assert_card_kept(await tap(chat, card, CHANGE_MARGIN), card)
    assert "Введите наценку" in (margin.text or "")
    text = await chat.send("3")
    assert "Клиент получает" in text and "Наценка: 3 %" in text.replace("\xa0", " ")
    assert amounts(text)[0] == "1 000,00 RUB"  # the amount as it was: no amount step between
    assert "Клиент получает" in (card.text or "") and "Наценка: 2" in (card.text or "")


async def test_change_margin_by_a_preset_goes_back_to_the_card(make_chat) -> None:
    chat = make_chat()
    card = await on_card(chat)
    margin = assert_card_kept(await tap(chat, card, CHANGE_MARGIN), card)
    [shown] = [m for m in await tap(chat, margin, "0,5.*") if m.text]
    assert "Наценка: 0,5" in (shown.text or "") and amounts(shown.text or "")[0] == "1 000,00 RUB"


async def test_change_amount_keeps_direction_and_margin(make_chat) -> None:
    chat = make_chat()
    card = await on_card(chat)
    prompt = assert_card_kept(await tap(chat, card, CHANGE_AMOUNT), card)
    assert "Введите сумму" in (prompt.text or "")
    text = await chat.send("5000")
    assert amounts(text)[0] == "5 000,00 RUB" and "Наценка: 2" in text


async def test_back_from_a_changed_step_returns_to_the_card(make_chat) -> None:
    chat = make_chat()
    card = await on_card(chat)
    margin = assert_card_kept(await tap(chat, card, CHANGE_MARGIN), card)
    [shown] = [m for m in await tap(chat, margin, BACK) if m.text]
    assert "Клиент получает" in (shown.text or "")
    # and the dialog goes on from the card as usual (the usual Back leads to the amount)
    [again] = [m for m in await tap(chat, shown, BACK) if m.text]
    assert "Введите сумму" in (again.text or "")


async def test_swap_quotes_the_reverse_direction_for_the_same_money(make_chat) -> None:
    chat = make_chat()
    card = await on_card(chat)
    _, got = amounts(card.text or "")
    swapped = assert_card_kept(await tap(chat, card, SWAP), card)
    text = swapped.text or ""
    assert "💵 <b>USDT</b> → 🇷🇺 <b>RUB</b>" in text
    assert amounts(text)[0] == got  # the client now gives what they were to get
    assert "Наценка: 2" in text


async def test_swap_shows_only_when_the_reverse_direction_is_configured(make_chat) -> None:
    chat = make_chat()
    await chat.send("/admin_bot")
    await chat.click(button("RUB"))
    await chat.click(button("USD"))  # USD → RUB is not a configured direction
    await chat.send("2")
    await chat.send("1000")
    assert SWAP not in chat.transcript[-1]
    assert CHANGE_MARGIN in chat.transcript[-1]


async def test_for_the_client_sends_a_clean_quote_in_the_language_picked(make_chat) -> None:
    chat = make_chat()  # the admin reads Russian
    card = await on_card(chat)
    assert await tap(chat, card, FOR_CLIENT_EN) == []  # the dialog's windows stay as they are
    [sent] = chat.client.bot.sent
    text = sent.text
    assert "You give: <code>1000.00</code> RUB" in text
    assert "Quote No. <code>000000</code>" in text
    assert "holds until 12:15 (UTC+3), 15 min." in text  # 09:00 UTC + 15 min, Moscow
    for hidden in ("argin", "арж", "аценк", "%", "static", "ource", "сточник", "87,01"):
        assert hidden not in text, hidden  # no margin, no source, no market rate
    assert card.reply_markup is not None and (card.text or "").startswith("<b>Расчёт")


async def test_for_the_client_double_tap_sends_once(make_chat) -> None:
    chat = make_chat()
    card = await on_card(chat)
    for _ in range(3):
        await tap(chat, card, FOR_CLIENT_RU)
    assert len(chat.client.bot.sent) == 1
    assert "Вы отдаёте: <code>1000,00</code> RUB" in chat.client.bot.sent[0].text
    await tap(chat, card, FOR_CLIENT_EN)  # the other language is another message
    assert len(chat.client.bot.sent) == 2


async def test_a_double_tap_on_change_margin_or_swap_acts_once(make_chat) -> None:
    for label in (CHANGE_MARGIN, SWAP):
        chat = make_chat()
        card = await on_card(chat)
        assert_card_kept(await tap(chat, card, label), card)
        assert await tap(chat, card, label) == []
        assert await tap(chat, card, label) == []


async def test_receive_mode_the_client_gives_the_amount_rounded_up(make_chat) -> None:
    chat = make_chat()
    await walk_to(chat, "amount")
    text = await chat.click(FIX_RECEIVE)
    assert "которую клиент <b>получает</b>, в USDT" in text
    assert FIX_GIVE in chat.transcript[-1] and FIX_RECEIVE not in chat.transcript[-1]
    card = await chat.send("100")
    gives, gets = amounts(card)
    assert gets == "100,00 USDT" and "✍️ задано" in card.split("Клиент получает")[1]
    expected = (100 * client_rate(card)).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    assert number(gives) == expected
    # typed on the card, another amount is still what the client receives
    again = await chat.send("250,5")
    assert amounts(again)[1] == "250,50 USDT"


async def test_receive_mode_limits_are_the_received_currency_s(make_chat) -> None:
    chat = make_chat()
    await walk_to(chat, "amount")
    await chat.click(FIX_RECEIVE)
    text = await chat.send("0.001")  # USDT has 2 decimals
    assert "не больше 2" in text


async def test_switching_back_to_the_amount_given(make_chat) -> None:
    chat = make_chat()
    await walk_to(chat, "amount")
    await chat.click(FIX_RECEIVE)
    text = await chat.click(FIX_GIVE)
    assert "которую отдаёт клиент, в RUB" in text
    assert amounts(await chat.send("1000"))[0] == "1 000,00 RUB"
