"""Putting new definitions in place: build a complete new generation, switch, retire the old.

:meth:`Switchboard.put_in_place` builds, from definitions already validated, everything a
set needs, *before* anything changes for the admins:

1. the rate side: when config.yaml's rate sections changed (:func:`~.changes.rates_differ`)
   a new rate stack (providers, cache, budgets, preloader: what ``run`` opens at start,
   sharing with the old one the files or Redis keys where rates and monthly counts live, so
   nothing is fetched or counted again); otherwise the running one, untouched;
2. the dispatcher, from the composition root's own factory (the same storage and events
   isolation as every other generation, the same metrics and journal), and its start-up
   hooks;

then switches the feed (:class:`~.feed.UpdateFeed`) in one assignment, points the
throttle's raw-update gate at the new dispatcher's throttle, hands preloading over (the old
preloader stops, giving up a Redis leadership, before the new one starts), and lets the
composition root tell Telegram what changed (the command menu, the update types). Once
switched, nothing is undone: a failure handing over is logged with its traceback.

The old generation is retired in the background: the updates it took finish on it; then, if
its rate stack is no longer used, the stack is closed (within :data:`DRAIN_SECONDS`; what
still runs then meets a closed session, reported as any failure). A failure while building
closes what was built and leaves the running generation as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from aiogram import Bot

from engine.bot.updates import SkippedUpdates
from engine.config.models import AppConfig
from engine.definitions import Definitions
from engine.rates.service import RateService
from engine.reload.changes import rates_differ
from engine.reload.feed import AppProtocol, Generation, RatesProtocol, UpdateFeed

log = logging.getLogger(__name__)

# How long a retired generation's updates may run before its own rate stack is closed.
DRAIN_SECONDS = 60.0


@dataclass(frozen=True)
class Wiring:
    """What the composition root hands the switchboard.

    Attributes:
        create_app: a wired dispatcher for definitions and a rate service (the storage,
            events isolation, admins, metrics and journal are the composition root's).
        open_rates: the rate stack for a config, as ``run`` opens it at start.
        announce: tells Telegram what changed from the old generation to the new (the
            command menu, the update types); failures are its own to report.
        bot: the bot the dispatchers' start-up hooks get.
        skipped: the Bot API session's record of skipped updates, whose raw-update gate
            is the current throttle.
        offline: static rates: a new rate service is filled at once, as at start.
        settle: called once a retired generation is done with: the composition root
            frees what it had frozen (``engine.bot.warmup.refreeze_heap``).
    """

    create_app: Callable[[Definitions, RateService], AppProtocol]
    open_rates: Callable[[AppConfig], AbstractAsyncContextManager[RatesProtocol]]
    announce: Callable[[Generation, Generation], Awaitable[None]]
    bot: Bot
    skipped: SkippedUpdates
    offline: bool
    settle: Callable[[], None] = lambda: None


class Switchboard:
    """Owns the feed and every generation's lifetime (see the module docstring).

    Args:
        wiring: the composition root's factories.
        first: the generation serving from the start. Its rate stack is the switchboard's
            to close from now on, like every one a reload opens (closing one twice does
            nothing, so its opener may close it too).
    """

    def __init__(self, wiring: Wiring, first: Generation) -> None:
        self.wiring = wiring
        self.feed = UpdateFeed(first)
        self._retiring: set[asyncio.Task[None]] = set()
        self._retired: list[Generation] = []  # still handling updates, maybe
        self._stacks: list[contextlib.AsyncExitStack] = [first.rates_stack]
        self._serving = False  # preloading runs once the bot serves (run_runtime)

    @property
    def current(self) -> Generation:
        return self.feed.current

    def serving(self) -> None:
        """The bot serves from now on: a new rate stack's preloader starts with it."""
        self._serving = True

    async def put_in_place(self, defs: Definitions) -> None:
        """Build a generation for ``defs`` and switch to it (see the module docstring).

        Raises:
            Exception: whatever building raised; nothing changed then.
        """
        old = self.current
        async with contextlib.AsyncExitStack() as undo:
            if rates_differ(old.defs.config, defs.config):
                stack = contextlib.AsyncExitStack()
                self._stacks.append(stack)
                undo.push_async_callback(stack.aclose)
                parts = await stack.enter_async_context(self.wiring.open_rates(defs.config))
                if self.wiring.offline:
                    await parts.rates.snapshot()  # static rates: cached at once, as at start
            else:
                stack, parts = old.rates_stack, old.parts
            app = self.wiring.create_app(defs, parts.rates)
            await app.dispatcher.emit_startup(bot=self.wiring.bot)
            new = Generation(defs, app, parts, stack)
            undo.pop_all()
        self.feed.switch(new)
        self.wiring.skipped.gate_with(new.app.throttle.refuses_raw)
        try:
            if new.parts is not old.parts:
                await self._hand_over_preloading(old.parts, new.parts)
            await self.wiring.announce(old, new)
        except Exception:  # the new set serves already: say what failed, do not undo it
            log.exception("reload: the new definitions serve, but handing over failed")
        finally:
            self._retire(old)

    async def _hand_over_preloading(self, old: RatesProtocol, new: RatesProtocol) -> None:
        if old.preloader is not None:
            await old.preloader.stop()
        if self._serving and new.preloader is not None:
            new.preloader.start()

    def _retire(self, old: Generation) -> None:
        self._retired.append(old)
        task = asyncio.create_task(self._drain(old), name="retire definitions")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _drain(self, old: Generation) -> None:
        """Let ``old``'s updates finish; close its rate stack once nobody uses it: the
        current generation does not, nor does any retired one still handling updates."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_SECONDS
        stack = old.rates_stack
        if stack is not self.current.rates_stack:
            for sharing in [g for g in self._retired if g.rates_stack is stack]:
                if not await sharing.counter.wait_idle(max(deadline - loop.time(), 0.0)):
                    log.warning(
                        "reload: %d update(s) of earlier definitions still running after "
                        "%g s; closing their rate service under them",
                        sharing.counter.count,
                        DRAIN_SECONDS,
                    )
            self._retired = [g for g in self._retired if g.rates_stack is not stack]
            self._stacks.remove(stack)
            await stack.aclose()
            log.debug("reload: the previous rate service is closed")
        else:
            await old.counter.wait_idle(DRAIN_SECONDS)
            if old in self._retired:
                self._retired.remove(old)
        self.wiring.settle()

    async def aclose(self) -> None:
        """At shutdown, once every update finished: end the retirements, then close every
        rate stack still open, the current one's included."""
        for task in list(self._retiring):
            task.cancel()
        for task in list(self._retiring):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for stack in self._stacks:
            await stack.aclose()
        self._stacks.clear()
        self._retired.clear()
