"""One-line quotes in the chat: /q, plain text with no dialog open, or typed on a result
card (issue 11 §4). The reply is the dialog's own result card: the dialog opened there."""

from __future__ import annotations

import pytest
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator

CARD_RU = (
    "<b>Расчёт обмена</b> · № <code>000000</code>\n🇷🇺 <b>RUB</b> → 💵 <b>USDT</b>\n\n"
    "Курс биржи: 1 USDT = 85,30 RUB\nНаценка: 2\u00a0%\n"
    "Курс для клиента: <b>1 USDT = 87,01 RUB</b>\n\n"
    "Клиент отдаёт: <b>1\u00a0000,00 RUB</b> · ✍️ задано\nКлиент получает: <b>11,49 USDT</b>\n\n"
    "<i>Источник: static, курс получен только что.</i>"
)


async def dialog_card(
    session, language: str | None, give: str, get: str, margin: str, amount: str
) -> str:
    """The result card the dialog gives for the same quote."""
    s = session(language=language)
    await s.client.send("/admin_bot")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(f".* {give}$"))
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(f".* {get}$"))
    await s.client.send(margin)
    await s.client.send(amount)
    return s.manager.last_message().text or ""


def card_of(s) -> str:
    """The card the one-line quote opened (a dialog window, not a plain message)."""
    assert s.bot.sent() == []  # nothing outside the dialog
    return s.manager.last_message().text or ""


async def test_q_gives_the_dialogs_card_in_russian(session) -> None:
    s = session()
    await s.client.send("/q 1000 rub usdt 2")
    assert card_of(s) == CARD_RU
    assert card_of(s) == await dialog_card(session, None, "RUB", "USDT", "2", "1000")
    keyboard = s.manager.last_message().reply_markup.inline_keyboard
    assert [[b.text for b in row] for row in keyboard] == [
        ["✏️ Наценка", "✏️ Сумма"],
        ["⇄ Обратный обмен"],
        ["📤 Клиенту · RU", "📤 Клиенту · EN"],
        ["← Назад", "🔄 Новый расчёт"],
    ]


async def test_the_card_of_a_one_line_quote_requotes_a_typed_amount(session) -> None:
    s = session()
    await s.client.send("/q 1000 rub usdt 2")
    await s.client.send("5000")
    assert "Клиент отдаёт: <b>5\u00a0000,00 RUB</b>" in card_of(s)
    assert "Наценка: 2\u00a0%" in card_of(s)


async def test_a_one_line_quote_typed_on_a_card_is_a_new_quote(session) -> None:
    s = session()
    await s.client.send("/q 1000 rub usdt 2")
    await s.client.send("500 usdt rub 1")  # not "not a number": a quote of its own
    text = card_of(s)
    assert "💵 <b>USDT</b> → 🇷🇺 <b>RUB</b>" in text and "Наценка: 1\u00a0%" in text


async def test_receive_mode_one_line(session) -> None:
    s = session()
    await s.client.send("получить 500 usdt за rub 2")
    text = card_of(s)
    assert "Клиент получает: <b>500,00 USDT</b> · ✍️ задано" in text
    assert "Клиент отдаёт: <b>43\u00a0505,00 RUB</b>" in text  # 500 × 87,01, rounded up


@pytest.mark.parametrize(
    ("text", "margin", "amount"),
    [
        ("1000 rub usdt 2%", "2", "1000"),
        ("1 000 000 руб в usdt 1,5", "1.5", "1000000"),
        ("/q 1000 ₽ → USDT 2", "2", "1000"),
        ("/q 1000 рублей за usdt", "1", "1000"),  # quote.default_margin
    ],
)
async def test_plain_text_and_aliases_give_the_same_card(session, text, margin, amount) -> None:
    s = session()
    await s.client.send(text)
    assert card_of(s) == await dialog_card(session, None, "RUB", "USDT", margin, amount)


async def test_english_plain_text_with_an_arrow(session) -> None:
    s = session(language="en")
    await s.client.send("usdt 500 → thb")
    text = card_of(s)
    assert text == await dialog_card(session, "en", "USDT", "THB", "1", "500")
    assert "Margin: 1%" in text  # the default margin, shown
    assert "Client gives: <b>500.00 USDT</b>" in text


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        (
            "/q 1000 rub xyz 2",
            "Понял: 1000 RUB → …, наценка 2 %. Не знаю «xyz»: валюты — RUB, USDT, USD, EUR, THB, "
            "AED, ZAR, IDR. Пример: <code>1000 rub usdt 2</code>",
        ),
        (
            "/q 1000 руб",
            "Понял: 1000 RUB → …. Не хватает валюты, которую получает клиент. "
            "Пример: <code>1000 rub usdt 2</code>",
        ),
        (
            "1000 usdt usdt",
            "Понял: 1000 USDT → USDT. Такого направления нет: за USDT клиент может получить RUB, "
            "USD, EUR, THB, AED, ZAR, IDR. Пример: <code>500 usdt rub 2</code>",
        ),
        (
            "1000 usd eur",
            "Понял: 1000 USD → EUR. Такого направления нет: клиент может отдать только RUB, USDT. "
            "Пример: <code>1000 rub eur 2</code>",
        ),
        (
            "/q rub usdt 2%",
            "Понял: … RUB → USDT, наценка 2 %. Не хватает суммы. Пример: <code>1000 rub usdt 2</code>",
        ),
        (
            "получить 500 usdt",
            "Понял: 500 … → USDT. Не хватает валюты, которую отдаёт клиент. "
            "Пример: <code>1000 rub usdt 2</code>",
        ),
    ],
)
async def test_not_understood_says_what_was_and_what_is_missing(session, text, reply) -> None:
    s = session()
    await s.client.send(text)
    assert [m.text for m in s.bot.sent()] == [reply]
    assert s.manager.sent_messages == []


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("/q 1000 rub usdt 11", "Слишком много: максимум 10 %."),
        ("/q 0,5 rub usdt 2", "Слишком мало: минимум 1 RUB."),
        (
            "/q 1,000 rub usdt",
            "«1,000» можно понять двояко. Напишите без разделителя тысяч — "
            "например, 1000 — или с одним знаком после запятой: 1,5.",
        ),
        ("/q 1500,555 usdt idr", "Слишком много знаков после запятой: не больше 2."),
    ],
)
async def test_limits_are_the_dialogs(session, text, reply) -> None:
    s = session()
    await s.client.send(text)
    assert [m.text for m in s.bot.sent()] == [reply]


async def test_english_refusal(session) -> None:
    s = session(language="en")
    await s.client.send("/q 1000 rub")
    assert s.bot.sent()[-1].text == (
        "Understood: 1000 RUB → …. The currency the client gets is missing. "
        "Example: <code>1000 rub usdt 2</code>"
    )


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
    assert card_of(s) == CARD_RU


async def test_q_inside_an_open_dialog_opens_its_card_instead(session) -> None:
    """/q while a quote is half done: the new quote's card, with all its buttons, replaces
    it (a desk quoting the next client does not go back to the half-done one)."""
    s = session()
    await s.client.send("/admin_bot")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* RUB$"))
    await s.client.send("/q 1000 rub usdt 2")
    assert card_of(s) == CARD_RU


async def test_new_quote_button_under_the_card_starts_the_dialog(session) -> None:
    s = session()
    await s.client.send("/q 1000 rub usdt 2")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator("🔄 Новый расчёт"))
    assert "Какую валюту отдаёт клиент?" in (s.manager.last_message().text or "")


SNAPSHOT_TEXTS = [
    "/q 1000 rub usdt 2",
    "usdt 500 → thb",
    "/q 1000 rub xyz 2",
    "/q 1000 rub",
    "/q rub usdt",
    "/q 1000 usdt usdt",
    "/q 1000 rub usdt eur",
    "получить 500 usdt за rub 2",
    "получить 500 usdt",
    "/q 1000 rub usdt 11",
    "/q 1,000 rub usdt",
]


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize("text", SNAPSHOT_TEXTS)
async def test_reply_snapshots(session, snapshot, locale: str, text: str) -> None:
    s = session(language=locale)
    await s.client.send(text)
    [reply] = s.bot.sent() or [s.manager.last_message()]
    buttons = (
        [[b.text for b in row] for row in reply.reply_markup.inline_keyboard]
        if (reply.reply_markup)
        else []
    )
    assert {"text": reply.text, "buttons": buttons} == snapshot
