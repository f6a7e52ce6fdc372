"""Commands, access control and error recovery, through the real dispatcher."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator
from bot_helpers import ADMIN, STRANGER


async def test_stranger_gets_one_polite_refusal_and_nothing_else(session) -> None:
    s = session(user_id=STRANGER)
    await s.client.send("/admin_bot")
    await s.client.send("/rates")
    await s.client.send("1000")
    sent = s.bot.sent()
    assert len(sent) == 1
    assert sent[0].text == "Извините, этот бот работает только для сотрудников обменного пункта."
    assert sent[0].reply_markup is None
    assert s.manager.sent_messages == []  # no dialog window, no rates


async def test_stranger_pressing_a_button_gets_an_answer_only(session) -> None:
    admin = session()
    await admin.client.send("/admin_bot")
    window = admin.manager.last_message()
    stranger = session(user_id=STRANGER)
    await stranger.client.click(window, InlineButtonTextLocator(".* RUB"))
    assert [a.text for a in stranger.bot.answers()] == ["Только для сотрудников."]
    assert stranger.bot.sent() == []


async def test_no_admins_refuses_everyone(session) -> None:
    s = session(user_id=ADMIN, admins=())
    await s.client.send("/admin_bot")
    assert len(s.bot.sent()) == 1 and s.manager.sent_messages == []


async def test_english_refusal(session) -> None:
    s = session(user_id=STRANGER, language="en")
    await s.client.send("/start")
    assert s.bot.sent()[0].text == "Sorry, this bot is only for the exchange desk's staff."


async def test_help_tells_the_truth(session) -> None:
    s = session()
    await s.client.send("/help")
    text = s.bot.sent()[0].text
    assert "/admin_bot — Новый расчёт обмена" in text
    assert "• USDT/RUB — rapira" in text
    assert "• USD/RUB, EUR/RUB, THB/RUB, AED/RUB, ZAR/RUB, IDR/RUB — apilayer" in text


async def test_rates_lists_each_pair_with_source_and_age(session) -> None:
    s = session(language="en")
    await s.client.send("/rates")
    text = s.bot.sent()[0].text
    assert "💵 1 USDT = <b>85.30 RUB</b> <i>static, just now</i>" in text
    assert "🇮🇩 1 IDR = <b>0.0056540 RUB</b>" in text
    assert "💵 1 USDT = <b>31.769 THB</b>" in text
    assert text.count("1 USDT = <b>85.30 RUB</b>") == 1


async def test_cancel_from_a_step_really_cancels(session) -> None:
    s = session()
    await s.client.send("/admin_bot")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* RUB"))
    await s.client.send("/cancel")
    assert s.bot.sent()[-1].text == "Расчёт отменён. /admin_bot — новый расчёт."
    # the dialog is gone: typing a number now is not read as a margin, a new quote starts
    s.manager.reset_history()
    await s.client.send("2")
    assert s.bot.sent()[-1].text.startswith("Открытого расчёта нет")
    assert "Какую валюту отдаёт клиент?" in s.manager.last_message().text


async def test_cancel_with_nothing_open(session) -> None:
    s = session()
    await s.client.send("/cancel")
    assert s.bot.sent()[-1].text == "Нечего отменять. /admin_bot — новый расчёт."


async def test_commands_work_in_the_middle_of_an_input_step(session) -> None:
    s = session()
    await s.client.send("/admin_bot")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* RUB"))
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* USDT"))
    s.manager.reset_history()
    await s.client.send("/help")  # not read as a (bad) margin
    assert s.manager.sent_messages == []
    assert "Crypto Helper" in (s.bot.sent()[-1].text or "")


async def test_old_button_after_restart_restarts_the_flow_politely(session) -> None:
    before = session()
    await before.client.send("/admin_bot")
    old_window = before.manager.last_message()
    after = session()  # a new process: empty storage, same admin
    callback_id = await after.client.click(old_window, InlineButtonTextLocator(".* RUB"))
    assert [a.callback_query_id for a in after.bot.answers()] == [callback_id]
    assert after.bot.answers()[0].text == "Бот был перезапущен — начинаем расчёт заново."
    assert "Какую валюту отдаёт клиент?" in (after.manager.last_message().text or "")


async def test_stray_button_is_answered(session) -> None:
    s = session()
    message = Message.model_validate(
        {
            "message_id": 5,
            "date": 0,
            "chat": {"id": ADMIN, "type": "private"},
            "text": "x",
            "reply_markup": InlineKeyboardMarkup(
                inline_keyboard=[
                    [InlineKeyboardButton(text="old", callback_data="something:else")]
                ]
            ).model_dump(),
        }
    )
    callback_id = await s.client.click(message, InlineButtonTextLocator("old"))
    assert [a.callback_query_id for a in s.bot.answers()] == [callback_id]


async def test_a_failing_step_reports_and_keeps_serving(session, monkeypatch) -> None:
    s = session()
    rates = s.app.services.rates

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(rates, "quote", broken)
    await s.client.send("/admin_bot")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* RUB"))
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(".* USDT"))
    await s.client.send("2")
    await s.client.send("1000")
    failure = s.bot.sent()[-1]
    assert failure.text.startswith("⚠️ Что-то пошло не так")
    labels = [b.text for row in failure.reply_markup.inline_keyboard for b in row]
    assert labels == ["🔁 Повторить", "🔄 Новый расчёт"]
    # and the bot still serves: New quote opens a fresh dialog
    monkeypatch.undo()
    reply = Message(
        message_id=9999,
        date=0,
        chat={"id": ADMIN, "type": "private"},
        text=failure.text,
        reply_markup=failure.reply_markup,
    )
    s.manager.reset_history()
    await s.client.click(reply, InlineButtonTextLocator("🔄 Новый расчёт"))
    assert "Какую валюту отдаёт клиент?" in (s.manager.last_message().text or "")
