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
made and counted as a quote in the admin's own chat with the bot.

Journalled is the quote the admin **sends**, not every one answered: Telegram sends a query
at each pause in typing, so ``1000 rub usd`` is quoted on the way to ``1000 rub usdt``. With
inline feedback on (@BotFather ``/setinlinefeedback``, 100 %), Telegram reports the result
picked (``chosen_inline_result``, its id is ``<quote number>-<locale>``) and that quote is
recorded then, from what this process answered (kept :data:`KEPT_SECONDS`; a pick that
reaches another replica is logged and not recorded). Without feedback, inline quotes are
not journalled; the README says so.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from aiogram import Router
from aiogram.enums import ChatType, ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    Chat,
    ChosenInlineResult,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InlineQueryResultUnion,
    InputTextMessageContent,
)
from cachetools import TTLCache

from engine.config.models import AppConfig
from engine.flow.builder import FlowDialog, quote_origin
from engine.flow.services import FlowServices
from engine.inline import START_PARAMETER, InlineAnswer, InlineQuotes
from engine.journal.hook import record_quote
from engine.locale import user_locale
from engine.render import Renderer

log = logging.getLogger(__name__)
# How many answered inline quotes, and for how long, wait to be picked.
KEPT_QUOTES = 1024
KEPT_SECONDS = 3600.0


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


def own_chat(user_id: int) -> Chat:
    """The admin's private chat with the bot: where an inline quote counts as made."""
    return Chat(id=user_id, type=ChatType.PRIVATE)


def create_inline_router(main_flow: FlowDialog, config: AppConfig, renderer: Renderer) -> Router:
    """The ``inline_query`` handler for admins; without a client card in the main flow
    (no ``send`` button on its result card) no handler, so inline queries are not even
    asked for (``allowed_updates`` comes from the handlers)."""
    router = Router(name="inline")
    quotes = InlineQuotes(main_flow.flow, config, renderer)
    if not quotes.available:
        log.info("inline quotes off: the main flow's result card sends no client card")
        return router

    # Quotes answered, by number, until the admin picks one (then journalled) or they age.
    answered: TTLCache[str, tuple[int, dict[str, Any]]] = TTLCache(KEPT_QUOTES, KEPT_SECONDS)

    @router.inline_query()
    async def inline_quote(query: InlineQuery, flow_services: FlowServices) -> None:
        locale = user_locale(query.from_user, renderer.locales, config.bot.default_locale)
        # No chat is known yet: the quote is the admin's own, as in their chat with the bot.
        origin = quote_origin(query.from_user, own_chat(query.from_user.id), config)
        # Not journalled yet: only the result the admin picks is (chosen_inline_result).
        quoting = replace(flow_services, journal=None)
        answer = await quotes.answer(query.query, locale, quoting, origin)
        if answer.articles and answer.data is not None:
            answered[str(answer.data["quote"]["number"])] = (query.from_user.id, answer.data)
        await send_answer(query, answer)

    @router.chosen_inline_result()
    async def picked(chosen: ChosenInlineResult, flow_services: FlowServices) -> None:
        number = chosen.result_id.rpartition("-")[0]
        kept = answered.pop(number, None)
        if kept is None or kept[0] != chosen.from_user.id:
            log.info("inline quote %s picked, not answered here: not journalled", number)
            return
        origin = quote_origin(chosen.from_user, own_chat(chosen.from_user.id), config)
        record_quote(kept[1], flow_services.journal, origin)

    return router
