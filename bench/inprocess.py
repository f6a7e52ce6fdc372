"""CPU per ``/admin_bot`` update inside one process, without sockets: the in-process profile.

The burst of ``bench.run`` measures whole processes over loopback HTTP, where a run varies by
±10 %. To see what a change to the engine buys, this feeds the same burst straight into each
dispatcher (crypto-helper's, wired as ``crypto-helper run`` wires it with memory storage, and
the reference bot's router) and answers the Bot API calls with a canned reply. The session
still encodes each request and decodes the reply (JSON, pydantic), so only socket I/O is left
out. ``--profile N`` runs the measured bursts under :mod:`cProfile` and prints the ``N``
functions with the most own time (its overhead is in the figures then); ``--only
crypto-helper`` runs one bot (also under py-spy).

Run: ``python -m bench.inprocess [--updates 2000] [--repeats 5]``; prints CPU µs per update.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.enums import ParseMode
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update

from bench.reference_bot import create_router
from engine.app import create_bot_session, create_dispatcher
from engine.bot.session import JsonBodySession
from engine.bot.storage import CompactMemoryStorage
from engine.bot.warmup import freeze_heap, pin_response_models
from engine.definitions import load_definitions
from engine.metrics import BotMetrics
from engine.rates.offline import create_offline_rates

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "42:BENCH"
FIRST_ADMIN = 10_000_000


class CannedSession(AiohttpSession):
    """Encodes each request and decodes a Bot API reply to it, never opening a socket."""

    def __init__(self, base: AiohttpSession) -> None:
        super().__init__(json_loads=base.json_loads, json_dumps=base.json_dumps)
        for middleware in base.middleware:
            self.middleware.register(middleware)
        self._ids = itertools.count(1)
        self._encode: Callable[[Bot, TelegramMethod[Any]], object] = (
            base.json_body if isinstance(base, JsonBodySession) else base.build_form_data
        )

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        self._encode(bot, method)  # what the bot's own session would post
        params = method.model_dump(warnings=False)
        result: Any = True
        if "text" in params and "chat_id" in params:
            result = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": params["chat_id"], "type": "private"},
                "from": {"id": 42, "is_bot": True, "first_name": "bot"},
                "text": params["text"],
            }
        content = self.json_dumps({"ok": True, "result": result})
        response = self.check_response(bot=bot, method=method, status_code=200, content=content)
        return response.result  # type: ignore[return-value]


def update(n: int) -> Update:
    user = FIRST_ADMIN + n
    return Update.model_validate(
        {
            "update_id": n + 1,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": user, "type": "private"},
                "from": {"id": user, "is_bot": False, "first_name": "A", "language_code": "ru"},
                "text": "/admin_bot",
                "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
            },
        }
    )


def canned_bot(session: AiohttpSession) -> Bot:
    default = DefaultBotProperties(parse_mode=ParseMode.HTML)
    return Bot(TOKEN, session=CannedSession(session), default=default)


def crypto_helper(admins: frozenset[int]) -> tuple[Dispatcher, Bot]:
    defs = load_definitions(ROOT / "config.yaml")
    rates = create_offline_rates(defs.config)
    storage = CompactMemoryStorage(defs.config.storage.state_ttl_seconds)
    app = create_dispatcher(
        defs, rates=rates, admins=admins, metrics=BotMetrics(), storage=storage
    )
    return app.dispatcher, canned_bot(create_bot_session(None))


def reference(admins: frozenset[int]) -> tuple[Dispatcher, Bot]:
    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.include_router(create_router(admins))
    return dispatcher, canned_bot(AiohttpSession())


async def burst(
    dispatcher: Dispatcher, bot: Bot, first: int, count: int, profile: cProfile.Profile | None
) -> float:
    """CPU seconds to handle ``count`` updates, fed as polling does: one task each."""
    updates = [update(first + i) for i in range(count)]
    started = time.process_time()
    if profile is not None:
        profile.enable()
    await asyncio.gather(*(asyncio.create_task(dispatcher.feed_update(bot, u)) for u in updates))
    if profile is not None:
        profile.disable()
    return time.process_time() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("reference", "crypto-helper"), help="one bot")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile: top N functions")
    args = parser.parse_args()
    total = args.updates * (args.repeats + 1) * 2
    admins = frozenset(range(FIRST_ADMIN, FIRST_ADMIN + total))
    bots = {"reference": reference, "crypto-helper": crypto_helper}
    built = {name: make(admins) for name, make in bots.items() if args.only in (None, name)}
    pinned = pin_response_models()  # as crypto-helper run does at start-up
    freeze_heap()
    profiles = {name: cProfile.Profile() for name in built if args.profile}
    figures: dict[str, list[float]] = {name: [] for name in built}
    first = 0
    for repeat in range(args.repeats + 1):  # the first round warms up
        for name, (dispatcher, bot) in built.items():
            gc.collect()
            profile = profiles.get(name) if repeat else None
            seconds = await burst(dispatcher, bot, first, args.updates, profile)
            first += args.updates
            if repeat:
                figures[name].append(seconds / args.updates * 1e6)
    for name, profile in profiles.items():
        print(f"── {name}: the {args.profile} functions with the most own time (cProfile)")
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)
    for name, values in figures.items():
        print(
            f"{name:14} CPU per update: median {statistics.median(values):6.0f} µs "
            f"(runs: {', '.join(f'{v:.0f}' for v in values)})"
        )
    if len(figures) == len(bots):
        ours, ref = (statistics.median(figures[n]) for n in ("crypto-helper", "reference"))
        print(f"crypto-helper / reference: ×{ours / ref:.2f}")
    del pinned


if __name__ == "__main__":
    asyncio.run(main())
