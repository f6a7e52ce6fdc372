"""Per-user flood control: one user's burst stays that user's problem.

aiogram handles each update as a task of its own (polling's ``handle_as_tasks``, the webhook
handler's background tasks), and the events isolation then serialises one user's updates
behind a lock. A user who sends 5 000 updates at once leaves 5 000 tasks waiting on that
lock, each holding its update: memory grows, and the loop spends its time on that user.

:class:`UserThrottle` counts, per user, the updates inside the pipeline (being handled, or
waiting for that user's lock). Above ``limit`` an update is dropped before the lock: not
handled and not answered, except that the first drop tells the user once per
``notice_seconds`` (``notices.too_fast``: a pop-up for a button, a message otherwise). Other
users' updates never wait for it. :func:`setup_throttle` puts it in front of aiogram's FSM
middleware, which is where the lock is taken.

The pattern is aiogram's (an outer middleware that returns without calling the handler) and
the notice marker a cachetools ``TTLCache``, as in aiogram's throttling example. Why not a
rate limiter such as aiolimiter: a leaky bucket makes the excess *wait*, which is the queue
that has to stay bounded; and a limit on time alone (aiogram's example drops every update
within a TTL of the last one) refuses an admin who types quickly yet queues nothing. What is
bounded here is the backlog itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update, User
from cachetools import TTLCache

from engine.config.models import AppConfig
from engine.locale import user_locale
from engine.render import Renderer

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
# Updates of one user in the pipeline at once: a double tap and a typed number fit easily.
DEFAULT_LIMIT = 8
DEFAULT_NOTICE_SECONDS = 10.0
NOTICE_KEY = "too_fast"
# Users told at once (one entry per flooding user, for notice_seconds).
MAX_NOTICED = 10_000


class UserThrottle(BaseMiddleware):
    """Outer ``update`` middleware: at most ``limit`` updates per user in the pipeline.

    Args:
        limit: updates of one user handled or waiting at once; more are dropped.
        notice_seconds: at most one "too fast" notice per user in this time.
        enabled: ``False`` lets everything through (the bench's "before" figures).
    """

    def __init__(
        self,
        config: AppConfig,
        renderer: Renderer,
        *,
        limit: int = DEFAULT_LIMIT,
        notice_seconds: float = DEFAULT_NOTICE_SECONDS,
        enabled: bool = True,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.config = config
        self.renderer = renderer
        self.limit = limit
        self.enabled = enabled
        self.dropped = 0
        self._pending: dict[int, int] = {}  # user id → updates in the pipeline (> 0 only)
        self._noticed: TTLCache[int, bool] = TTLCache(MAX_NOTICED, notice_seconds)

    def pending(self, user_id: int) -> int:
        return self._pending.get(user_id, 0)

    def refuses_raw(self, user_id: int, earlier_in_batch: int) -> bool:
        """Whether a raw update of ``user_id`` may be dropped before it is parsed: the user
        already has ``limit`` in the pipeline counting this batch's earlier ones. One more
        than the limit still goes through, for :meth:`__call__` to drop with the notice."""
        if not self.enabled:
            return False
        return self.pending(user_id) + earlier_in_batch > self.limit

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or not self.enabled:
            return await handler(event, data)
        count = self._pending.get(user.id, 0)
        if count >= self.limit:
            self.dropped += 1
            if user.id not in self._noticed:
                self._noticed[user.id] = True
                log.warning("user %s: more than %d updates at once, dropping", user.id, count)
                await self._tell(event, user)
            return None
        self._pending[user.id] = count + 1
        try:
            return await handler(event, data)
        finally:
            left = self._pending[user.id] - 1
            if left:
                self._pending[user.id] = left
            else:
                del self._pending[user.id]

    async def _tell(self, event: TelegramObject, user: User) -> None:
        """The one "too fast" notice: a pop-up on a button, a message in a chat."""
        if not isinstance(event, Update):
            return
        locale = user_locale(user, self.renderer.locales, self.config.bot.default_locale)
        text = self.renderer.string(locale, "notices", NOTICE_KEY, {})
        try:
            if event.callback_query is not None:
                await event.callback_query.answer(text)
            elif event.message is not None:
                await event.message.answer(text)
        except TelegramAPIError as exc:  # a notice is best-effort; the drop stands
            log.info("could not tell user %s to slow down: %s", user.id, exc)


def setup_throttle(dispatcher: Dispatcher, throttle: UserThrottle) -> None:
    """Register ``throttle`` as an outer ``update`` middleware in front of aiogram's FSM
    middleware (which takes the user's lock), so a dropped update never waits for it."""
    outer = dispatcher.update.outer_middleware
    after = list(outer[list(outer).index(dispatcher.fsm) :]) if dispatcher.fsm in outer else []
    for middleware in after:
        outer.unregister(middleware)
    outer.register(throttle)
    for middleware in after:
        outer.register(middleware)
