"""One-line quotes in the chat: /q and plain text with no dialog open (issue 11 §4)."""

from __future__ import annotations

import pytest
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator

CARD_RU = (
    "<b>Расчёт обмена</b>\n🇷🇺 <b>RUB</b> → 💵 <b>USDT</b>\n\n"
    "Курс биржи: 1 USDT = 85,30 RUB\nНаценка: 2\u00a0%\n"
    "Курс для клиента: <b>1 USDT = 87,01 RUB</b>\n\n"
    "Клиент отдаёт: <b>1\u00a0000,00 RUB</b>\nКлиент получает: <b>11,49 USDT</b>\n\n"
    "<i>Источник: static, курс получен только что.</i>"
)


async def dialog_card(session, language: str | None, give: str, get: str, margin: str,
                      amount: str) -> str:
    """The result card the dialog gives for the same quote."""
    s = session(language=language)
    await s.client.send("/admin_bot")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(f".* {give}$"))
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(f".* {get}$"))
    await s.client.send(margin)
    await s.client.send(amount)
    return s.manager.last_message().text or ""


async def test_q_gives_the_dialogs_card_in_russian(session) -> None:
    s = session()
    await s.client.send("/q 1000 rub usdt 2")
    reply = s.bot.sent()[-1]
    assert reply.text == CARD_RU
    assert reply.text == await dialog_card(session, None, "RUB", "USDT", "2", "1000")
    assert [[b.text for b in row] for row in reply.reply_markup.inline_keyboard] == [
        ["🔄 Новый расчёт"]]
    assert s.manager.sent_messages == []  # no dialog was opened


@pytest.mark.parametrize(("text", "margin", "amount"), [
    ("1000 rub usdt 2%", "2", "1000"),
    ("1 000 000 руб в usdt 1,5", "1.5", "1000000"),
    ("/q 1000 ₽ → USDT 2", "2", "1000"),
    ("/q 1000 рублей за usdt", "1", "1000"),  # quote.default_margin
])
async def test_plain_text_and_aliases_give_the_same_card(session, text, margin, amount) -> None:
    s = session()
    await s.client.send(text)
    assert s.bot.sent()[-1].text == await dialog_card(session, None, "RUB", "USDT", margin,
                                                      amount)


async def test_english_plain_text_with_an_arrow(session) -> None:
    s = session(language="en")
    await s.client.send("usdt 500 → thb")
    text = s.bot.sent()[-1].text
    assert text == await dialog_card(session, "en", "USDT", "THB", "1", "500")
    assert "Margin: 1%" in text  # the default margin, shown
    assert "Client gives: <b>500.00 USDT</b>" in text


@pytest.mark.parametrize(("text", "reply"), [
    ("/q 1000 rub xyz 2",
     "Понял: 1000 RUB → …, наценка 2 %. Не знаю «xyz»: валюты — RUB, USDT, USD, EUR, THB, "
     "AED, ZAR, IDR. Пример: <code>1000 rub usdt 2</code>"),
    ("/q 1000 руб",
     "Понял: 1000 RUB → …. Не хватает валюты, которую получает клиент. "
     "Пример: <code>1000 rub usdt 2</code>"),
    ("1000 usdt usdt",
     "Понял: 1000 USDT → USDT. Такого направления нет: за USDT клиент может получить RUB, "
     "USD, EUR, THB, AED, ZAR, IDR. Пример: <code>500 usdt rub 2</code>"),
    ("1000 usd eur",
     "Понял: 1000 USD → EUR. Такого направления нет: клиент может отдать только RUB, USDT. "
     "Пример: <code>1000 rub eur 2</code>"),
    ("/q rub usdt 2%",
     "Понял: … RUB → USDT, наценка 2 %. Не хватает суммы. Пример: <code>1000 rub usdt 2</code>"),
    ("получить 500 usdt за rub 2",
     "Расчёт от суммы, которую клиент получает, пока недоступен. Напишите, сколько клиент "
     "отдаёт, например <code>500 usdt rub 2</code>, или начните /admin_bot."),
])
async def test_not_understood_says_what_was_and_what_is_missing(session, text, reply) -> None:
    s = session()
    await s.client.send(text)
    assert [m.text for m in s.bot.sent()] == [reply]
    assert s.manager.sent_messages == []


@pytest.mark.parametrize(("text", "reply"), [
    ("/q 1000 rub usdt 11", "Слишком много: максимум 10 %."),
    ("/q 0,5 rub usdt 2", "Слишком мало: минимум 1 RUB."),
    ("/q 1,000 rub usdt", "«1,000» можно понять двояко. Напишите без разделителя тысяч — "
     "например, 1000 — или с одним знаком после запятой: 1,5."),
    ("/q 1500,555 usdt idr", "Слишком много знаков после запятой: не больше 2."),
])
async def test_limits_are_the_dialogs(session, text, reply) -> None:
    s = session()
    await s.client.send(text)
    assert [m.text for m in s.bot.sent()] == [reply]


async def test_english_refusal(session) -> None:
    s = session(language="en")
    await s.client.send("/q 1000 rub")
    assert s.bot.sent()[-1].text == (
        "Understood: 1000 RUB → …. The currency the client gets is missing. "
        "Example: <code>1000 rub usdt 2</code>")


@pytest.mark.parametrize("text", ["hello", "2", "rub"])
async def test_other_text_with_no_dialog_starts_over_as_before(session, text) -> None:
    s = session()
    await s.client.send(text)
    assert s.bot.sent()[-1].text.startswith("Открытого расчёта нет")
    assert "Какую валюту отдаёт клиент?" in (s.manager.last_message().text or "")


async def test_a_number_inside_an_open_step_is_read_by_the_step(session) -> None:
    s = session()
    await s.client.send("/admin_bot")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* RUB$"))
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* USDT$"))
    await s.client.send("1000 rub usdt 2")  # on the margin step: not a one-line quote
    assert s.bot.sent() == []
    assert "не число" in (s.manager.last_message().text or "")
    await s.client.send("2")
    await s.client.send("1000")
    assert s.manager.last_message().text == CARD_RU
    assert s.bot.sent() == []


async def test_q_inside_an_open_dialog_leaves_the_dialog_open(session) -> None:
    s = session()
    await s.client.send("/admin_bot")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* RUB$"))
    await s.client.send("/q 1000 rub usdt 2")
    assert s.bot.sent()[-1].text == CARD_RU
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* USDT$"))
    assert "наценк" in (s.manager.last_message().text or "").lower()


async def test_new_quote_button_under_the_card_starts_the_dialog(session) -> None:
    s = session()
    await s.client.send("/q 1000 rub usdt 2")
    sent = s.bot.sent()[-1]
    from aiogram.types import Chat, Message
    card = Message(message_id=1, date=0, chat=Chat(id=s.client.chat.id, type="private"),
                   text=sent.text, reply_markup=sent.reply_markup)
    await s.client.click(card, InlineButtonTextLocator("🔄 Новый расчёт"))
    assert "Какую валюту отдаёт клиент?" in (s.manager.last_message().text or "")


SNAPSHOT_TEXTS = [
    "/q 1000 rub usdt 2", "usdt 500 → thb", "/q 1000 rub xyz 2", "/q 1000 rub", "/q rub usdt",
    "/q 1000 usdt usdt", "/q 1000 rub usdt eur", "получить 500 usdt за rub 2",
    "/q 1000 rub usdt 11", "/q 1,000 rub usdt",
]


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize("text", SNAPSHOT_TEXTS)
async def test_reply_snapshots(session, snapshot, locale: str, text: str) -> None:
    s = session(language=locale)
    await s.client.send(text)
    [reply] = s.bot.sent()
    buttons = [[b.text for b in row] for row in reply.reply_markup.inline_keyboard] if (
        reply.reply_markup) else []
    assert {"text": reply.text, "buttons": buttons} == snapshot
