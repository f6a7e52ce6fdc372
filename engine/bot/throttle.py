"""Per-user flood control: one user's burst stays that user's problem.

aiogram handles each update as a task of its own (polling's ``handle_as_tasks``, the webhook
handler's background tasks), and the events isolation then serialises one user's updates
behind a lock. A user who sends 5 000 updates at once leaves 5 000 tasks waiting on that
lock, each holding its update: memory grows, and the loop spends its time on that user.

:class:`UserThrottle` holds each user to two bounds, and drops an update that passes
either before the lock: not handled and not answered, except that the first drop tells the
user once per ``notice_seconds`` (``notices.too_fast``: a pop-up for a button, a message
otherwise). Other users' updates never wait for it.

* **In the pipeline** (being handled or waiting for that user's lock): at most ``limit``.
  This bounds the backlog, so memory stays flat whatever one user sends.
* **Flooding**: a user who went over that bound is flooding until they have gone
  ``quiet_seconds`` without a drop, and meanwhile may have only one update in the pipeline.
  The bound alone lets a flooder through as fast as the bot works off the backlog (about 900
  updates a second here): the bot would spend the flood on that user while the others'
  updates queue behind it at Telegram. In polling, a flooder who has been told is dropped
  unread from every ``getUpdates`` answer that holds more than one of theirs (the flood
  still arriving), so a backlog of 5 000 queued taps costs the bot one handled tap and
  JSON decoding instead of about ninety handled taps.

Someone fast but not flooding is never held back: a person, or a script, that waits for
each answer has one update in the pipeline at a time, however quickly they follow up (a
double or triple tap is two or three), and so does a flooder the moment the flood is over:
their next message is answered, flooding or not. Only updates queued *at once* count,
which is what a flood is. A rate limit (a token bucket, 20 at once and 5 a second) was tried
and dropped for that reason: it refused a script walking dialogs at full speed.

:func:`setup_throttle` puts it in front of aiogram's FSM middleware, which is where the
lock is taken. The pattern is aiogram's (an outer middleware that returns without calling
the handler) and the marks cachetools ``TTLCache``s, as in aiogram's throttling example.
Why not a rate limiter such as aiolimiter: a leaky bucket makes the excess *wait*, which is
the queue that has to stay bounded.
"""

from __future__ import annotations

import logging
import time
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
# How long a flooding user must be quiet before their updates are handled again.
DEFAULT_QUIET_SECONDS = 2.0
DEFAULT_NOTICE_SECONDS = 10.0
NOTICE_KEY = "too_fast"
# Users told at once (one entry per flooding user, for notice_seconds).
MAX_NOTICED = 10_000


class UserThrottle(BaseMiddleware):
    """Outer ``update`` middleware: at most ``limit`` updates per user in the pipeline, one
    while that user is flooding.

    Args:
        limit: updates of one user handled or waiting at once; more are dropped.
        quiet_seconds: a user over ``limit`` is flooding until this long after their
            last update dropped; meanwhile their limit is one.
        notice_seconds: at most one "too fast" notice per user in this time.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        config: AppConfig,
        renderer: Renderer,
        *,
        limit: int = DEFAULT_LIMIT,
        quiet_seconds: float = DEFAULT_QUIET_SECONDS,
        notice_seconds: float = DEFAULT_NOTICE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.config = config
        self.renderer = renderer
        self.limit = limit
        self.dropped = 0
        self._pending: dict[int, int] = {}  # user id → updates in the pipeline (> 0 only)
        # user id → flooding: set again at every drop, so it lasts until they are quiet
        self._flooding: TTLCache[int, bool] = TTLCache(MAX_NOTICED, quiet_seconds, timer=clock)
        self._noticed: TTLCache[int, bool] = TTLCache(MAX_NOTICED, notice_seconds, timer=clock)

    def pending(self, user_id: int) -> int:
        return self._pending.get(user_id, 0)

    def flooding(self, user_id: int) -> bool:
        """Whether ``user_id`` went over the limit and has not been quiet since."""
        return user_id in self._flooding

    def limit_of(self, user_id: int) -> int:
        """Updates of ``user_id`` allowed in the pipeline now: one while flooding."""
        return 1 if user_id in self._flooding else self.limit

    def refuses_raw(self, user_id: int, earlier_in_batch: int, in_batch: int = 1) -> bool:
        """Whether a raw update of ``user_id`` may be dropped before it is parsed: the user
        is flooding, has been told, and this ``getUpdates`` answer holds more than one of
        theirs (the flood is still arriving; a message alone in its batch is the flood
        over, and is handled); or, counting this batch's earlier ones, the user already
        has their limit in the pipeline. One more than the limit still goes through, for
        :meth:`__call__` to drop with the notice, unless the user has been told."""
        told = user_id in self._flooding and user_id in self._noticed
        if (told and in_batch > 1) or (
            self.pending(user_id) + earlier_in_batch >= self.limit_of(user_id) + (not told)
        ):
            self._flooding[user_id] = True
            return True
        return False

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        count = self._pending.get(user.id, 0)
        if count >= self.limit_of(user.id):
            self._flooding[user.id] = True
            self.dropped += 1
            if user.id not in self._noticed:
                self._noticed[user.id] = True
                log.warning("user %s: more than %d updates at once, dropping", user.id, self.limit)
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
