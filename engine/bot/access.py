"""Only admins get the bot; anyone else gets one short, polite refusal and nothing more.

The bot works in private chats only unless ``bot.allow_groups`` is true: in a group an
admin's command gets one line asking to use a private chat, and nothing else is answered
(no rates are posted where others can read them).

An outer middleware on messages, callback queries and inline queries, so no handler, dialog
or rate is reached by a stranger. A stranger is told once an hour at most (a bounded TTL
cache), so a flood of messages does not become a flood of replies. A stranger's inline query
is always answered (else their client waits on it), with no result and the button to open
the bot (``inline.stranger``), cached by Telegram for a minute.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Chat, InlineQuery, Message, TelegramObject, User
from cachetools import TTLCache

from engine.bot.inline import send_answer
from engine.config.models import AppConfig
from engine.inline import stranger_answer
from engine.locale import user_locale
from engine.messages import REFUSED, base_context
from engine.render import Renderer

log = logging.getLogger("engine.bot")

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class AccessMiddleware(BaseMiddleware):
    """Lets admins through; answers strangers once and drops their updates."""

    def __init__(
        self,
        admins: Iterable[int],
        config: AppConfig,
        renderer: Renderer,
        *,
        refuse_every_seconds: float = 3600,
    ) -> None:
        self.admins = frozenset(admins)
        self.config = config
        self.renderer = renderer
        self._refused: TTLCache[int, bool] = TTLCache(maxsize=10_000, ttl=refuse_every_seconds)
        self._told_groups: TTLCache[int, bool] = TTLCache(maxsize=10_000, ttl=refuse_every_seconds)
        self._logged_inline: TTLCache[int, bool] = TTLCache(
            maxsize=10_000, ttl=refuse_every_seconds
        )

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if chat is not None and chat.type != ChatType.PRIVATE and not self.config.bot.allow_groups:
            return await self._outside_private(event, user, chat)
        if user is not None and user.id in self.admins:
            return await handler(event, data)
        user_id = user.id if user else 0
        locale = user_locale(user, self.renderer.locales, self.config.bot.default_locale)
        if isinstance(event, CallbackQuery):
            text = self.renderer.string(locale, "notices", "refused", {})
            await event.answer(text)
        elif isinstance(event, Message) and user_id not in self._refused:
            self._refused[user_id] = True
            log.info("refused user %s (not in admins)", user_id)
            text = self.renderer.window(locale, REFUSED, base_context(self.config, locale))
            await event.answer(text)
        elif isinstance(event, InlineQuery):
            if user_id not in self._logged_inline:
                self._logged_inline[user_id] = True
                log.info("refused user %s inline (not in admins)", user_id)
            await send_answer(event, stranger_answer(self.config, self.renderer, locale))
        return None

    async def _outside_private(self, event: TelegramObject, user: User | None, chat: Chat) -> None:
        """In a group: an admin's command gets one line asking for a private chat (once an
        hour per group); nothing else is answered, and no rate is posted there."""
        if isinstance(event, CallbackQuery):
            await event.answer()
            return
        is_command = isinstance(event, Message) and (event.text or "").startswith("/")
        if not is_command or user is None or user.id not in self.admins:
            return
        if chat.id in self._told_groups:
            return
        self._told_groups[chat.id] = True
        log.info(
            "admin %s used the bot in %s chat %s: asked to use a private chat",
            user.id,
            chat.type,
            chat.id,
        )
        locale = user_locale(user, self.renderer.locales, self.config.bot.default_locale)
        assert isinstance(event, Message)
        await event.answer(self.renderer.string(locale, "notices", "private_only", {}))
