"""Graceful shutdown: every update the process took is finished before anything closes.

An update is taken before it is handled: polling confirms a fetched batch with the next
``getUpdates`` offset, a webhook answers 200 before handling in the background. Updates of
one admin then queue behind each other on the event-isolation lock, which aiogram takes in
its FSM middleware, before any middleware of ours runs. Counted from there, a queued update
looked like no update at all: the process closed its sessions under it ("Session is
closed", a traceback, a failure notice) and Telegram never sent it again.

So :class:`InFlightDispatcher` counts an update from the moment it is fed
(:meth:`~aiogram.Dispatcher.feed_update`, polling and webhook alike), and its
:meth:`~InFlightDispatcher.emit_shutdown` (aiogram calls it once polling stopped; the
webhook runner calls it on SIGTERM) first waits for every counted update, bounded, and only
then runs the shutdown hooks, which close the FSM storage. :func:`create_webhook_gate`
answers 503 to webhook requests from then on, so Telegram keeps those updates for the next
process. Updates still unfinished after the grace are cancelled (so they fail nowhere) and
named in a WARNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.types import TelegramObject, Update
from aiohttp import web
from aiohttp.typedefs import Middleware

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
# How long cancelled updates get to unwind (release their locks) before the sessions close.
CANCEL_GRACE_SECONDS = 1.0


class InFlight(BaseMiddleware):
    """The updates being handled, the tasks handling them, and whether the process is
    closing (no update is taken any more)."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Task[Any] | None] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.closing = False

    @property
    def count(self) -> int:
        return len(self._running)

    @contextlib.contextmanager
    def track(self, key: Hashable) -> Iterator[None]:
        """Count the work under ``key`` (an update id) while the block runs."""
        self._running[key] = asyncio.current_task()
        self._idle.clear()
        try:
            yield
        finally:
            self._running.pop(key, None)
            if not self._running:
                self._idle.set()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        with self.track(getattr(event, "update_id", None) or id(event)):
            return await handler(event, data)

    async def wait_idle(self, seconds: float) -> bool:
        """True when nothing is left running within ``seconds``."""
        try:
            async with asyncio.timeout(seconds):
                # A loop: work may start again between the event being set and this waking.
                while self._running:
                    await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def finish(self, seconds: float) -> None:
        """Take nothing more; give what runs ``seconds`` to finish, then cancel the rest."""
        self.closing = True
        if not self._running:
            return
        log.info("stopping: finishing %d update(s) in progress", self.count)
        if await self.wait_idle(seconds):
            return
        keys = ", ".join(str(key) for key in self._running)
        log.warning(
            "stopping: update(s) %s unfinished after %g s are cancelled; Telegram will not "
            "send them again",
            keys,
            seconds,
        )
        for task in self._running.values():
            if task is not None:
                task.cancel()
        await self.wait_idle(CANCEL_GRACE_SECONDS)


class InFlightDispatcher(Dispatcher):
    """aiogram's :class:`Dispatcher` that counts each update from the moment it is fed and
    finishes them all before its shutdown hooks run.

    Args:
        inflight: where the updates are counted.
        grace: how long :meth:`emit_shutdown` waits for them, in seconds.
        **kwargs: :class:`Dispatcher`'s (``storage``, ``events_isolation``…).
    """

    def __init__(self, *, inflight: InFlight, grace: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inflight = inflight
        self.grace = grace

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        with self.inflight.track(update.update_id):
            return await super().feed_update(bot, update, **kwargs)

    async def emit_shutdown(self, *args: Any, **kwargs: Any) -> None:
        await self.inflight.finish(self.grace)
        await super().emit_shutdown(*args, **kwargs)


def create_webhook_gate(inflight: InFlight, path: str) -> Middleware:
    """An aiohttp middleware for the webhook ``path``: a request is counted while it is
    answered (so an update it hands to a task is never missed), and once the process is
    closing the answer is 503, which Telegram retries later, on the next process."""

    @web.middleware
    async def webhook_gate(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path != path:
            return await handler(request)
        if inflight.closing:
            return web.Response(status=503, text="shutting down")
        with inflight.track(f"webhook request {id(request):x}"):
            return await handler(request)

    return webhook_gate
