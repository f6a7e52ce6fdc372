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
* **Per second**: a token bucket of ``burst`` updates, refilled at ``rate`` a second. The
  backlog bound alone lets a flooder through as fast as the bot works off the backlog
  (about 900 updates a second here): the bot then spends the flood on that user while the
  others' updates queue behind it at Telegram. The bucket lets through ``burst`` and then
  ``rate`` a second, which no person reaches: Telegram itself lets a bot answer one chat
  about once a second. A double tap, a number typed fast after a tap, a desk session at
  full speed fit in it (20 at once, 5 a second after that).

:func:`setup_throttle` puts it in front of aiogram's FSM middleware, which is where the
lock is taken. The pattern is aiogram's (an outer middleware that returns without calling
the handler) and the notice marker a cachetools ``TTLCache``, as in aiogram's throttling
example.

Why the bucket is written here: aiolimiter (a leaky bucket) makes the excess *wait*, which
is the queue that has to stay bounded; ``limits`` reads the wall clock (an NTP step moves
every window) and runs a 10 ms timer thread while in use; ``token-bucket`` keeps a bucket
for every key it ever saw and has no clock to inject. :class:`TokenBuckets` is a
cachetools ``TTLCache`` of (tokens, time) pairs on an injectable monotonic clock: an entry
expires when its bucket would be full again, so memory is bounded by the users who sent
something in the last ``burst / rate`` seconds (and by ``MAX_NOTICED``).
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
# Updates of one user let through at once, and a second after that.
DEFAULT_BURST = 20
DEFAULT_RATE = 5.0
DEFAULT_NOTICE_SECONDS = 10.0
NOTICE_KEY = "too_fast"
# Users told at once (one entry per flooding user, for notice_seconds).
MAX_NOTICED = 10_000


class TokenBuckets:
    """One token bucket per user: ``burst`` tokens, ``rate`` more a second.

    Args:
        rate: tokens added a second.
        burst: the bucket's size (a user not seen lately has a full one).
        clock: seconds, monotonic (``time.monotonic``; tests pass their own).
        max_users: buckets kept at once; the least recently used goes first.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = MAX_NOTICED,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be above 0 and burst at least 1, not {rate}, {burst}")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        # An entry lives until its bucket would be full again: then it is not needed.
        self._buckets: TTLCache[int, tuple[float, float]] = TTLCache(
            max_users, burst / rate, timer=clock
        )

    def available(self, user_id: int) -> float:
        """Tokens in ``user_id``'s bucket now (fractions included)."""
        entry = self._buckets.get(user_id)
        if entry is None:
            return float(self.burst)
        tokens, at = entry
        return min(float(self.burst), tokens + (self.clock() - at) * self.rate)

    def take(self, user_id: int) -> bool:
        """Take one token from ``user_id``'s bucket; False (nothing taken) when empty."""
        tokens = self.available(user_id)
        if tokens < 1:
            return False
        self._buckets[user_id] = (tokens - 1, self.clock())
        return True


class UserThrottle(BaseMiddleware):
    """Outer ``update`` middleware: at most ``limit`` updates per user in the pipeline.

    Args:
        limit: updates of one user handled or waiting at once; more are dropped.
        burst, rate: the token bucket: updates of one user let through at once, and a
            second after that; more are dropped.
        notice_seconds: at most one "too fast" notice per user in this time.
        clock: the buckets' clock (monotonic seconds).
        enabled: ``False`` lets everything through (the bench's "before" figures).
    """

    def __init__(
        self,
        config: AppConfig,
        renderer: Renderer,
        *,
        limit: int = DEFAULT_LIMIT,
        burst: int = DEFAULT_BURST,
        rate: float = DEFAULT_RATE,
        notice_seconds: float = DEFAULT_NOTICE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
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
        self.buckets = TokenBuckets(rate, burst, clock=clock)
        self._noticed: TTLCache[int, bool] = TTLCache(MAX_NOTICED, notice_seconds)

    def pending(self, user_id: int) -> int:
        return self._pending.get(user_id, 0)

    def refuses_raw(self, user_id: int, earlier_in_batch: int) -> bool:
        """Whether a raw update of ``user_id`` may be dropped before it is parsed: counting
        this batch's earlier ones, the user already has ``limit`` in the pipeline, or has
        no token left. One more than either bound still goes through, for :meth:`__call__`
        to drop with the notice."""
        if not self.enabled:
            return False
        if self.pending(user_id) + earlier_in_batch > self.limit:
            return True
        return self.buckets.available(user_id) < earlier_in_batch

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or not self.enabled:
            return await handler(event, data)
        count = self._pending.get(user.id, 0)
        if count >= self.limit or not self.buckets.take(user.id):
            self.dropped += 1
            if user.id not in self._noticed:
                self._noticed[user.id] = True
                why = (
                    f"more than {self.limit} updates at once"
                    if count >= self.limit
                    else f"more than {self.buckets.burst} updates at once or "
                    f"{self.buckets.rate:g} a second"
                )
                log.warning("user %s: %s, dropping", user.id, why)
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
