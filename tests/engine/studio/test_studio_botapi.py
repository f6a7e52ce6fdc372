"""The in-process Bot API of ``crypto-helper chat`` answers as Telegram does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramNotFound
from aiogram.methods import GetChat
from aiogram.types import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup

from engine.studio.botapi import NOT_MODIFIED, QUERY_INVALID, TOKEN, Button, LocalBotAPI

USER = {"id": 7, "is_bot": False, "first_name": "You", "language_code": "en"}
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="A", callback_data="a"),
            InlineKeyboardButton(text="B", callback_data="b"),
        ],
        [InlineKeyboardButton(text="Site", url="https://rapira.net")],
    ]
)


@pytest.fixture
async def bot() -> AsyncIterator[tuple[Bot, LocalBotAPI]]:
    api = LocalBotAPI(USER)
    bot = Bot(TOKEN, session=api, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    yield bot, api
    await bot.session.close()


async def test_send_message_stores_what_telegram_stores(bot: tuple[Bot, LocalBotAPI]) -> None:
    client, api = bot
    sent = await client.send_message(7, "  <b>Quote</b> 💵 &amp; more\n\n", reply_markup=KEYBOARD)
    assert sent.text == "Quote 💵 & more"
    assert [(e.type, e.offset, e.length) for e in sent.entities or []] == [("bold", 0, 5)]
    message = api.messages[sent.message_id]
    assert message.html == "  <b>Quote</b> 💵 &amp; more\n\n"
    assert message.keyboard == (
        (Button("A", "a"), Button("B", "b")),
        (Button("Site", url="https://rapira.net"),),
    )
    assert [b.text for b in message.buttons] == ["A", "B", "Site"]
    assert [s.kind for s in api.drain()] == ["sent"]
    assert api.drain() == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "<div>x</div>",
            'Bad Request: can\'t parse entities: Unsupported start tag "div" at byte offset 0',
        ),
        (
            "<b>x",
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        ),
        ("<b> </b>", "Bad Request: message text is empty"),
        ("x" * 4097, "Bad Request: message is too long"),
    ],
)
async def test_send_message_refused_like_telegram(
    bot: tuple[Bot, LocalBotAPI], text: str, error: str
) -> None:
    client, api = bot
    with pytest.raises(TelegramBadRequest) as caught:
        await client.send_message(7, text)
    assert caught.value.message == error
    assert api.messages == {} and api.drain() == []


async def test_plain_text_mode(bot: tuple[Bot, LocalBotAPI]) -> None:
    client, _ = bot
    sent = await client.send_message(7, "<b>as is</b>", parse_mode=None)
    assert sent.text == "<b>as is</b>" and not sent.entities


async def test_another_chat_is_not_found(bot: tuple[Bot, LocalBotAPI]) -> None:
    client, _ = bot
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await client.send_message(8, "hi")


async def test_edits(bot: tuple[Bot, LocalBotAPI]) -> None:
    client, api = bot
    sent = await client.send_message(7, "one", reply_markup=KEYBOARD)
    with pytest.raises(TelegramBadRequest) as caught:
        await client.edit_message_text(
            "one", chat_id=7, message_id=sent.message_id, reply_markup=KEYBOARD
        )
    assert caught.value.message == NOT_MODIFIED
    # Without reply_markup the keyboard goes, as in Telegram.
    await client.edit_message_text("<i>two</i>", chat_id=7, message_id=sent.message_id)
    message = api.messages[sent.message_id]
    assert (message.text, message.keyboard) == ("two", ())
    await client.edit_message_reply_markup(
        chat_id=7, message_id=sent.message_id, reply_markup=KEYBOARD
    )
    with pytest.raises(TelegramBadRequest) as caught:
        await client.edit_message_reply_markup(
            chat_id=7, message_id=sent.message_id, reply_markup=KEYBOARD
        )
    assert caught.value.message == NOT_MODIFIED
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await client.edit_message_text("x", chat_id=7, message_id=999)
    assert [s.kind for s in api.drain()] == ["sent", "edited", "keyboard"]


async def test_the_users_own_message_cannot_be_edited(bot: tuple[Bot, LocalBotAPI]) -> None:
    client, api = bot
    update = api.message_update("hello")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await client.edit_message_text("x", chat_id=7, message_id=update["message"]["message_id"])


async def test_delete(bot: tuple[Bot, LocalBotAPI]) -> None:
    client, api = bot
    sent = await client.send_message(7, "x")
    assert await client.delete_message(7, sent.message_id)
    assert api.messages == {}
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await client.delete_message(7, sent.message_id)
    assert [s.kind for s in api.drain()] == ["sent", "deleted"]


async def test_callback_answers_once_and_a_text_is_a_popup(bot: tuple[Bot, LocalBotAPI]) -> None:
    client, api = bot
    sent = await client.send_message(7, "x", reply_markup=KEYBOARD)
    message = api.messages[sent.message_id]
    update = api.tap_update(message, message.buttons[1])
    query = update["callback_query"]
    assert query["data"] == "b" and query["message"]["reply_markup"] == message.markup
    assert query["from"] == USER and query["message"]["from"]["is_bot"] is True
    api.drain()
    assert await client.answer_callback_query(query["id"], text="Staff only.")
    with pytest.raises(TelegramBadRequest) as caught:
        await client.answer_callback_query(query["id"])
    assert caught.value.message == QUERY_INVALID
    assert [(s.kind, s.text) for s in api.drain()] == [("popup", "Staff only.")]
    update = api.tap_update(message, message.buttons[0])
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await client.answer_callback_query(update["callback_query"]["id"], text="x" * 201)


async def test_commands_kept_per_language(bot: tuple[Bot, LocalBotAPI]) -> None:
    client, api = bot
    await client.set_my_commands(
        [BotCommand(command="help", description="Help")], language_code="en"
    )
    await client.set_my_commands([BotCommand(command="help", description="Помощь")])
    assert api.commands == {
        "en": [{"command": "help", "description": "Help"}],
        "": [{"command": "help", "description": "Помощь"}],
    }
    assert [c.description for c in await client.get_my_commands(language_code="en")] == ["Help"]


async def test_me_silent_and_unknown_methods(bot: tuple[Bot, LocalBotAPI]) -> None:
    client, api = bot
    me = await client.get_me()
    assert (me.id, me.is_bot) == (42, True)
    assert await client.delete_webhook()
    assert await client.send_chat_action(7, "typing")
    with pytest.raises(TelegramNotFound):
        await client(GetChat(chat_id=7))
    assert api.calls == ["getMe", "deleteWebhook", "sendChatAction", "getChat"]


def test_a_typed_command_gets_its_entity() -> None:
    api = LocalBotAPI(USER)
    update = api.message_update("/q 1000 rub usdt")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 2}]
    assert update["message"]["from"] == USER
    assert "entities" not in api.message_update("1000")["message"]
    assert api.message_update("x")["update_id"] == 3
