"""Telegram's 429: wait ``retry_after`` and send again.

aiogram raises :class:`~aiogram.exceptions.TelegramRetryAfter` and does not retry; this
request middleware on the bot session does, a bounded number of times, so a reply is
delayed rather than lost.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger("engine.bot")


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Retries a method after Telegram's ``retry_after``, up to ``attempts`` times."""

    def __init__(self, attempts: int = 5, max_wait: float = 120.0) -> None:
        self.attempts = attempts
        self.max_wait = max_wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self.attempts or exc.retry_after > self.max_wait:
                    raise
                log.warning(
                    "Telegram 429 on %s: retrying in %s s (attempt %d)",
                    type(method).__name__,
                    exc.retry_after,
                    attempt,
                )
                await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover
