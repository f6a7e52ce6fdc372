"""Telegram's 429: wait ``retry_after`` and send again — without holding a user up for long.

aiogram raises :class:`~aiogram.exceptions.TelegramRetryAfter` and does not retry; this
request middleware on the bot session does, a bounded number of times, so a reply is
delayed rather than lost.

A reply is sent from inside the handler of a user's update, and that handler holds the
user's lock (the events isolation): every second it waits, the user's next update waits
too. So:

* one deadline per chat: after a 429 for a chat, the chat's next requests wait for that
  same moment instead of each being refused and waiting again;
* a request to a chat (or a callback answer) waits ``hold`` seconds in all at most; past
  that the ``TelegramRetryAfter`` is raised at once, the error router logs it as an outage
  (one line) and the lock is released, so the user's next input is handled as soon as
  Telegram takes messages again, not after five retries;
* a request without a chat (``setMyCommands`` at start-up) holds no user and waits up to
  ``max_wait`` per attempt, as before.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger("engine.bot")

# Chats with a deadline kept at once; expired ones are dropped past this.
MAX_DEADLINES = 1_000


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Retries a method after Telegram's ``retry_after``, up to ``attempts`` times.

    Args:
        attempts: sends of one request in all.
        max_wait: a longer ``retry_after`` is not waited for.
        hold: seconds a request to a chat may wait in all (it holds that user's lock).
        clock, sleep: injected for tests (``sleep`` defaults to ``asyncio.sleep`` at the time
            of the call).
    """

    def __init__(
        self,
        attempts: int = 5,
        max_wait: float = 120.0,
        hold: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.attempts = attempts
        self.max_wait = max_wait
        self.hold = hold
        self._clock = clock
        self._sleep = sleep
        self._until: dict[int | str, float] = {}  # chat → when Telegram takes it again

    async def _wait(self, seconds: float) -> None:
        await (self._sleep or asyncio.sleep)(seconds)

    def wait_of(self, chat: int | str | None) -> float:
        """Seconds until ``chat`` may be written to again (0: now)."""
        if chat is None:
            return 0.0
        now = self._clock()
        if len(self._until) > MAX_DEADLINES:
            self._until = {c: t for c, t in self._until.items() if t > now}
        until = self._until.get(chat)
        if until is None or until <= now:
            self._until.pop(chat, None)
            return 0.0
        return until - now

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        chat: int | str | None = getattr(method, "chat_id", None)
        holds_a_user = chat is not None or isinstance(method, AnswerCallbackQuery)
        waited = 0.0
        for attempt in range(1, self.attempts + 1):
            # The chat's deadline, set by an earlier request; a retry waits its own 429 below.
            pause = self.wait_of(chat) if attempt == 1 else 0.0
            if pause > 0:
                if holds_a_user and waited + pause > self.hold:
                    raise TelegramRetryAfter(
                        method=method,
                        message=f"Too Many Requests: the chat waits {pause:.1f} s more",
                        retry_after=math.ceil(pause),
                    )
                await self._wait(pause)
                waited += pause
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                wait = float(exc.retry_after)
                if chat is not None:
                    self._until[chat] = max(self._until.get(chat, 0.0), self._clock() + wait)
                too_long = wait > self.max_wait or (holds_a_user and waited + wait > self.hold)
                if attempt == self.attempts or too_long:
                    raise
                log.warning(
                    "Telegram 429 on %s: retrying in %s s (attempt %d)",
                    type(method).__name__,
                    exc.retry_after,
                    attempt,
                )
                await self._wait(wait)
                waited += wait
        raise AssertionError("unreachable")  # pragma: no cover
