"""Well-formed updates the flows cannot serve, answered before aiogram-dialog sees them.

A callback query without ``data`` (a game button, or a client that sends none) is valid
Bot API, but aiogram-dialog's dialog handler reads ``callback.data`` as a string and fails
with a ``TypeError`` when a dialog is open in that chat: a traceback and a failure notice
for a click. :class:`DatalessCallbackMiddleware`, an outer middleware registered before
``setup_dialogs``, answers it (so the button stops spinning), logs one INFO line and goes
no further.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, TelegramObject

log = logging.getLogger(__name__)


class DatalessCallbackMiddleware(BaseMiddleware):
    """Answers callback queries without ``data`` and stops them there."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, CallbackQuery) or event.data is not None:
            return await handler(event, data)
        log.info(
            "callback query %s from user %s has no data: answered", event.id, event.from_user.id
        )
        try:
            await event.answer()
        except TelegramAPIError as exc:  # too old: nothing left to stop
            log.info("callback query %s not answered: %s", event.id, exc.message)
        return None
