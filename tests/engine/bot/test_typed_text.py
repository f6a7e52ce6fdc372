"""The typed-text middleware: no invisible characters left for aiogram-dialog to decode."""

from __future__ import annotations

import datetime
from typing import Any

from aiogram.types import Chat, Message, MessageEntity, TelegramObject, User
from aiogram_dialog.utils import (
    REPLY_CALLBACK_SYMBOLS,
    encode_reply_callback,
    split_reply_callback,
)
from bot_helpers import RecordingBot

from engine.bot.typed_text import TypedTextMiddleware, moved_entities


def message(text: str | None, entities: list[MessageEntity] | None = None) -> Message:
    return Message(
        message_id=7,
        date=datetime.datetime(2024, 1, 1),
        text=text,
        entities=entities,
        chat=Chat(id=1, type="private"),
        from_user=User(id=1, is_bot=False, first_name="A"),
    )


async def through(event: Message) -> Message:
    seen: list[TelegramObject] = []

    async def handler(event: TelegramObject, data: dict[str, Any]) -> str:
        seen.append(event)
        return "handled"

    assert await TypedTextMiddleware()(handler, event, {}) == "handled"
    [result] = seen
    assert isinstance(result, Message)
    return result


async def test_hidden_button_data_is_removed() -> None:
    event = message("1000" + encode_reply_callback("cancel"))
    passed = await through(event)
    assert passed.text == "1000"
    assert split_reply_callback(passed.text) == ("1000", "")  # aiogram-dialog sees no button
    assert passed.message_id == event.message_id and passed.chat == event.chat


async def test_every_symbol_aiogram_dialog_decodes_is_removed() -> None:
    passed = await through(message("2" + REPLY_CALLBACK_SYMBOLS * 3))
    assert passed.text == "2"


async def test_direction_controls_are_left_for_the_parser_to_refuse() -> None:
    passed = await through(message("\u202e2.5\u200b"))
    assert passed.text == "\u202e2.5"


async def test_a_clean_message_passes_unchanged() -> None:
    event = message("1 000,50")
    assert await through(event) is event
    photo = message(None)
    assert await through(photo) is photo


async def test_the_copy_keeps_the_bot() -> None:
    bot = RecordingBot()
    event = message("5\u200b").as_(bot)
    assert (await through(event)).bot is bot


def test_entity_offsets_follow_the_removed_characters() -> None:
    # "\u200b/cancel\u200c 🙂\u2060x": the emoji is two UTF-16 units.
    text = "\u200b/cancel\u200c \U0001f642\u2060x"
    entities = [
        MessageEntity(type="bot_command", offset=1, length=8),  # /cancel + ZWNJ
        MessageEntity(type="bold", offset=10, length=4),  # 🙂 WJ x
        MessageEntity(type="italic", offset=0, length=1),  # the ZWSP alone: dropped
    ]
    moved = moved_entities(text, entities)
    assert moved is not None
    assert [(e.type, e.offset, e.length) for e in moved] == [
        ("bot_command", 0, 7),
        ("bold", 8, 3),
    ]
    assert moved_entities(text, None) is None
