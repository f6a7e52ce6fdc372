"""Typed text without its invisible characters, before aiogram-dialog reads hidden data in it.

Why: aiogram-dialog can turn an inline keyboard into a *reply* keyboard, whose buttons send
their label as plain text; to know which button was pressed it appends the callback data
to the label, encoded in 16 zero-width characters (``aiogram_dialog.utils``:
``REPLY_CALLBACK_SYMBOLS``, ``join_reply_callback``). Its outer message middleware
(``IntentMiddlewareFactory.process_message``) runs ``split_reply_callback(message.text)`` on
*every* message: it strips those characters from the end of the text, decodes them as UTF-8
callback data and, when that is not empty, replays the message as a button press instead of
text. So ``5`` followed by the right invisible characters tapped the 0,5 % preset,
``1000`` + invisible text pressed Cancel, ``2`` + two ZWNJ (the byte ``\\x00``) was a press
of no button (silence), and ``2`` + two U+1D173 (the byte ``0x88``) raised
``UnicodeDecodeError``.

This bot sends inline keyboards only (:class:`engine.flow.keyboard.IntentMarkup` builds an
``InlineKeyboardMarkup``), so typed text never legitimately carries that data. This outer
middleware, registered before ``setup_dialogs``, removes every character nobody sees
(:func:`engine.flow.parse.strip_invisible`, a superset of aiogram-dialog's symbols) from
``message.text`` and passes on a copy of the message (aiogram's types are frozen), entity
offsets moved to match. Direction and other format controls are left in place for the
number parser to refuse with a message: removing them could change what was seen.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, MessageEntity, TelegramObject

from engine.flow.parse import strip_invisible

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class TypedTextMiddleware(BaseMiddleware):
    """Outer message middleware: ``message.text`` without invisible characters."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Message) and event.text:
            text = strip_invisible(event.text)
            if text != event.text:
                log.debug(
                    "message %s: %d invisible character(s) removed",
                    event.message_id,
                    len(event.text) - len(text),
                )
                event = event.model_copy(
                    update={"text": text, "entities": moved_entities(event.text, event.entities)}
                )
        return await handler(event, data)


def moved_entities(
    original: str, entities: list[MessageEntity] | None
) -> list[MessageEntity] | None:
    """``entities`` of ``original`` with offsets (UTF-16 units) in the stripped text.

    An entity that covered only invisible characters is dropped.
    """
    if not entities:
        return entities
    moved: dict[int, int] = {}  # UTF-16 offset in the original -> in the stripped text
    old = new = 0
    for char in original:
        moved[old] = new
        units = len(char.encode("utf-16-le")) // 2
        old += units
        if strip_invisible(char):
            new += units
    moved[old] = new
    result: list[MessageEntity] = []
    for entity in entities:
        start = moved.get(entity.offset, new)
        end = moved.get(entity.offset + entity.length, new)
        if end > start:
            result.append(entity.model_copy(update={"offset": start, "length": end - start}))
    return result
