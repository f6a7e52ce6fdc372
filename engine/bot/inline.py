"""Inline quotes in any chat: ``@yourbot 1000 rub usdt 2`` (issue 11 §5).

What is answered is :mod:`engine.inline`'s (pure); this module is the aiogram side: the
``inline_query`` handler and :func:`send_answer`, which turns an
:class:`~engine.inline.InlineAnswer` into ``answerInlineQuery``: one
``InlineQueryResultArticle`` per locale whose message is the client's card in HTML, or no
result and the ``button`` (``start_parameter``: the private chat with the bot). Always
``is_personal`` (another admin's query must not get this one's cached quote) with a short
``cache_time`` (a quote's rate moves).

Only admins reach the handler: :class:`~engine.bot.access.AccessMiddleware` answers a
stranger's query itself (no result, the button to open the bot), as it answers their
messages. Inline queries have no chat: ``bot.allow_groups`` does not apply, since the admin
chooses where the card goes and the card holds no margin and no source.

The chat the card will be sent to is not known when the query is answered (Telegram says
where only with inline feedback, and even then only an ``inline_message_id``); the quote is
made, counted and journalled as a quote in the admin's own chat with the bot.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Router
from aiogram.enums import ChatType, ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    Chat,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InlineQueryResultUnion,
    InputTextMessageContent,
)

from engine.config.models import AppConfig
from engine.flow.builder import FlowDialog
from engine.inline import START_PARAMETER, InlineAnswer, InlineQuotes
from engine.locale import user_locale
from engine.render import Renderer

log = logging.getLogger(__name__)


async def send_answer(query: InlineQuery, answer: InlineAnswer) -> bool:
    """Answer ``query`` with ``answer``; a refusal from Telegram (the query too old, the
    user gone) is one WARNING, never raised. Whether Telegram took it."""
    results: list[InlineQueryResultUnion] = [
        InlineQueryResultArticle(
            id=article.id,
            title=article.title,
            description=article.description,
            input_message_content=InputTextMessageContent(
                message_text=article.text, parse_mode=ParseMode.HTML
            ),
        )
        for article in answer.articles
    ]
    button = (
        InlineQueryResultsButton(text=answer.button, start_parameter=START_PARAMETER)
        if answer.button
        else None
    )
    try:
        await query.answer(
            results,
            cache_time=answer.cache_seconds,
            is_personal=True,
            button=button,
        )
    except TelegramAPIError as exc:
        log.warning("inline query of user %s not answered: %s", query.from_user.id, exc.message)
        return False
    return True


def create_inline_router(main_flow: FlowDialog, config: AppConfig, renderer: Renderer) -> Router:
    """The ``inline_query`` handler for admins; without a client card in the main flow
    (no ``send`` button on its result card) no handler, so inline queries are not even
    asked for (``allowed_updates`` comes from the handlers)."""
    router = Router(name="inline")
    quotes = InlineQuotes(main_flow.flow, config, renderer)
    if not quotes.available:
        log.info("inline quotes off: the main flow's result card sends no client card")
        return router

    @router.inline_query()
    async def inline_quote(query: InlineQuery, **services: Any) -> None:
        locale = user_locale(query.from_user, renderer.locales, config.bot.default_locale)
        # No chat is known yet: the quote is the admin's own, as in their chat with the bot.
        own_chat = Chat(id=query.from_user.id, type=ChatType.PRIVATE)
        answer = await quotes.answer(query.query, locale, {**services, "event_chat": own_chat})
        await send_answer(query, answer)

    return router
