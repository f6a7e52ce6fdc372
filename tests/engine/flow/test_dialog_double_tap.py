"""A card once shown is never overwritten: a double (or triple) tap on a kept card's button
acts once; the later taps are answered and do nothing else."""

from __future__ import annotations

import pytest
from aiogram.types import Message
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator
from flow_helpers import Chat, FlakyProvider, walk_to

from engine.definitions import load_definitions
from engine.rates.service import RateService
from providers.static import StaticProvider

BACK, NEW_DEAL, RETRY, CANCEL = "← Назад", "🔄 Новый расчёт", "🔁 Повторить", "✖️ Отмена"


async def tap(chat: Chat, message: Message, label: str) -> list[Message]:
    """Tap ``label`` on ``message`` (as the user's client still shows it); what the bot sent."""
    chat.manager.reset_history()
    query = await chat.client.click(message, InlineButtonTextLocator(label))
    chat.manager.assert_answered(query)
    return list(chat.manager.sent_messages)


def assert_card_kept(sent: list[Message], card: Message) -> Message:
    """The only change to the card: its keyboard removed (text untouched); returns the new
    window, sent as a message of its own."""
    for message in sent:
        if message.message_id == card.message_id:
            assert message.text is None and message.reply_markup is None, message
    [shown] = [m for m in sent if m.text]
    assert shown.message_id != card.message_id
    return shown


async def next_screen(chat: Chat, window: Message, label: str) -> str:
    """Tap ``label`` on the current window; the text of what the bot shows."""
    [shown] = [m for m in await tap(chat, window, label) if m.text]
    return shown.text or ""


@pytest.mark.parametrize(
    ("label", "screen"),
    [
        (BACK, "Введите сумму"),
        (NEW_DEAL, "Новый расчёт обмена"),
    ],
)
@pytest.mark.parametrize("taps", [2, 3])
async def test_repeated_tap_on_the_result_card_acts_once(
    make_chat, label: str, screen: str, taps: int
) -> None:
    chat = make_chat()
    await walk_to(chat, "result")
    card = chat.window()
    assert "Клиент получает" in (card.text or "")
    shown = assert_card_kept(await tap(chat, card, label), card)
    assert screen in (shown.text or "")
    for _ in range(taps - 1):
        assert await tap(chat, card, label) == []  # answered; nothing sent, nothing edited
    # the dialog is where the first tap put it, and goes on from the new message
    if label == BACK:
        assert "Клиент получает: <b>22,98 USDT</b>" in await chat.send("2000")
    else:
        assert "Какую валюту клиент получает?" in await next_screen(chat, shown, ".* RUB")


async def test_the_other_button_after_the_first_tap_is_ignored_too(make_chat) -> None:
    chat = make_chat()
    await walk_to(chat, "result")
    card = chat.window()
    shown = assert_card_kept(await tap(chat, card, NEW_DEAL), card)
    assert await tap(chat, card, BACK) == []
    assert "Какую валюту клиент получает?" in await next_screen(chat, shown, ".* RUB")


def keep_every_card(edit) -> None:  # type: ignore[no-untyped-def]
    """The shipped flow with ``keep_message`` on its other cards too."""
    edit(
        "flows/exchange.yaml",
        "    back: amount\n    buttons: [retry, back, cancel]\n",
        "    keep_message: true\n    back: amount\n    buttons: [retry, back, cancel]\n",
    )
    edit(
        "flows/exchange.yaml",
        "  cancelled:\n    kind: card\n",
        "  cancelled:\n    kind: card\n    keep_message: true\n",
    )


@pytest.mark.parametrize(
    ("label", "screen"),
    [
        (RETRY, "Курс сейчас недоступен"),
        (BACK, "Введите сумму"),
        (CANCEL, "Расчёт отменён"),
    ],
)
async def test_every_kept_card_button_acts_once(project, edit, make_chat, label, screen) -> None:
    keep_every_card(edit)
    defs = load_definitions()
    static = defs.config.providers["static"]
    provider = FlakyProvider(StaticProvider("static", static))
    provider.down = True
    chat = make_chat(defs=defs, rates=RateService(defs.config.offline(), {"static": provider}))
    await walk_to(chat, "result")
    card = chat.window()
    assert "Курс сейчас недоступен" in (card.text or "")
    shown = assert_card_kept(await tap(chat, card, label), card)
    assert screen in (shown.text or "")
    calls = provider.calls
    assert await tap(chat, card, label) == []
    assert provider.calls == calls  # a second Retry fetches nothing


async def test_new_deal_on_a_kept_cancelled_card_acts_once(project, edit, make_chat) -> None:
    keep_every_card(edit)
    chat = make_chat(defs=load_definitions())
    await walk_to(chat, "target")
    await chat.click(CANCEL)
    card = chat.window()
    shown = assert_card_kept(await tap(chat, card, NEW_DEAL), card)
    assert await tap(chat, card, NEW_DEAL) == []
    assert "Какую валюту клиент получает?" in await next_screen(chat, shown, ".* RUB")


async def test_buttons_of_the_current_window_still_work_after_an_edit(make_chat) -> None:
    """Windows edited in place keep their message id: their buttons stay live."""
    chat = make_chat()
    await walk_to(chat, "margin")
    window = chat.window()
    assert "Какую валюту клиент получает?" in await chat.click(BACK)
    assert chat.window().message_id == window.message_id
    assert "Введите наценку" in await chat.click(".* USDT")


@pytest.mark.parametrize("taps", [2, 3])
async def test_repeated_back_on_a_window_edited_in_place_goes_back_once(
    make_chat, taps: int
) -> None:
    """The amount window becomes the margin window in the same message; the later taps come
    from the amount window's keyboard (what the client showed when they were made)."""
    chat = make_chat()
    await walk_to(chat, "amount")
    window = chat.window()
    assert "Введите сумму" in (window.text or "")
    await tap(chat, window, BACK)
    assert "Введите наценку" in (chat.window().text or "")
    for _ in range(taps - 1):
        await tap(chat, window, BACK)
    assert "Введите наценку" in (chat.window().text or "")  # not the currency it was before
    # and the margin window goes on as usual
    assert "Введите сумму" in await chat.send("1.5")
