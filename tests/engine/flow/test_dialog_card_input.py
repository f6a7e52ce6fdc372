"""Typing on the kept result card (``input`` on a ``keep_message`` card): a number requotes
the same direction and margin on a new card, anything else gets the card again with the
error on top; the card typed on keeps its text either way."""

from __future__ import annotations

from aiogram.types import Message
from aiogram_dialog import ShowMode
from flow_helpers import Chat, to_amount
from test_dialog_double_tap import BACK, assert_card_kept, tap


async def type_on_card(chat: Chat, text: str) -> list[Message]:
    """Type ``text`` while the result card is shown; what the bot sent or edited."""
    chat.manager.reset_history()
    await chat.client.send(text)
    return list(chat.manager.sent_messages)


async def card_for(chat: Chat, give: str, get: str, margin: str, amount: str) -> Message:
    await to_amount(chat, give, get, margin)
    await chat.send(amount)
    return chat.window()


async def test_a_number_on_the_card_requotes_on_a_new_card(make_chat) -> None:
    chat = make_chat()
    card = await card_for(chat, "RUB", "USDT", "2", "1000")
    old_text = card.text
    assert "Клиент отдаёт: <b>1\xa0000,00 RUB</b>" in (old_text or "")
    sent = await type_on_card(chat, "5000")
    new = assert_card_kept(sent, card)  # only the old card's keyboard is removed
    assert chat.manager.show_modes[-1] is ShowMode.SEND
    text = new.text or ""
    assert "Клиент отдаёт: <b>5\xa0000,00 RUB</b>" in text
    assert "Наценка: 2\xa0%" in text and "Клиент получает: <b>57,46 USDT</b>" in text
    assert "⚠️" not in text
    assert [m.message_id for m in sent if m.text] == [new.message_id]
    assert card.text == old_text
    # the new card is the live one: it requotes again and its buttons work
    again = assert_card_kept(await type_on_card(chat, "2000"), new)
    assert "Клиент получает: <b>22,98 USDT</b>" in (again.text or "")
    assert await tap(chat, new, BACK) == []  # a superseded card's button does nothing
    [shown] = [m for m in await tap(chat, again, BACK) if m.text]
    assert "Введите сумму" in (shown.text or "")


async def test_the_same_margin_and_direction_in_english(make_chat) -> None:
    chat = make_chat(language="en")
    card = await card_for(chat, "USDT", "RUB", "1,5", "100")
    new = assert_card_kept(await type_on_card(chat, "200"), card)
    text = new.text or ""
    assert "Margin: 1.5%" in text
    assert "Client gives: <b>200.00 USDT</b>" in text


async def test_anything_else_on_the_card_gets_the_hint_on_a_new_card(make_chat) -> None:
    chat = make_chat()
    card = await card_for(chat, "RUB", "USDT", "2", "1000")
    old_text = card.text
    for typed in (
        "abc",
        "5 тысяч",
    ):  # a one-line quote typed here is a new quote (test_oneline_quotes)
        shown = assert_card_kept(await type_on_card(chat, typed), card)
        text = shown.text or ""
        assert text.startswith(f"⚠️ «{typed}» — не число."), text
        assert "Клиент отдаёт: <b>1\xa0000,00 RUB</b>" in text  # the same quote below the hint
        card = shown
    assert old_text is not None
    # a valid amount after the hint: a clean new card
    new = assert_card_kept(await type_on_card(chat, "5000"), card)
    assert "⚠️" not in (new.text or "")
    assert "Клиент отдаёт: <b>5\xa0000,00 RUB</b>" in (new.text or "")


async def test_a_too_large_amount_on_the_card_gets_the_limit_error(make_chat) -> None:
    chat = make_chat()
    card = await card_for(chat, "RUB", "USDT", "2", "1000")
    shown = assert_card_kept(await type_on_card(chat, "100000001"), card)
    assert (shown.text or "").startswith("⚠️ Слишком много: максимум 100\xa0000\xa0000 RUB."), (
        shown.text
    )
    assert "Клиент отдаёт: <b>1\xa0000,00 RUB</b>" in (shown.text or "")
    small = assert_card_kept(await type_on_card(chat, "0"), shown)
    assert (small.text or "").startswith("⚠️ Слишком мало: минимум 1 RUB."), small.text
