"""CPU per ``/admin_bot`` update inside one process, without sockets: the in-process profile.

The burst of ``bench.run`` measures whole processes over loopback HTTP, where a run varies by
±10 %. To see what a change to the engine buys, this feeds the same burst straight into each
dispatcher (crypto-helper's as :func:`engine.app.local_app` wires it for ``crypto-helper run
--offline``: memory storage, middlewares, metrics; and the reference bot's) and answers the Bot
API calls with a canned reply. The session still encodes each request and decodes the reply
(JSON, pydantic), so only socket I/O is left out. The updates are the e2e fake's, as the load
run queues them. Prints CPU µs per update.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import itertools
import pstats
import statistics
import time
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update

from bench import reference_bot
from engine.app import create_bot_session, local_app
from engine.bot.session import JsonBodySession
from engine.bot.warmup import freeze_heap, pin_response_models
from engine.definitions import load_definitions
from tests.e2e.fake_telegram import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
FIRST_ADMIN = 10_000_000
BOTS = ("reference", "crypto-helper")


class CannedSession(AiohttpSession):
    """Encodes each request and decodes a Bot API reply to it, never opening a socket."""

    def __init__(self, base: AiohttpSession) -> None:
        super().__init__(json_loads=base.json_loads, json_dumps=base.json_dumps)
        for middleware in base.middleware:
            self.middleware.register(middleware)
        self._ids = itertools.count(1)
        self._body = base.json_body if isinstance(base, JsonBodySession) else base.build_form_data

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        self._body(bot, method)  # what the bot's own session would post
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


async def create_bots(
    names: list[str], admins: frozenset[int], stack: contextlib.AsyncExitStack
) -> dict[str, tuple[Dispatcher, Bot]]:
    """Each bot's dispatcher, and a bot whose session is canned (the reference's a plain
    aiogram session, crypto-helper's its own); crypto-helper's started until ``stack`` ends."""
    default = DefaultBotProperties(parse_mode=ParseMode.HTML)
    built: dict[str, tuple[Dispatcher, Bot]] = {}
    if "reference" in names:
        bot = Bot(TOKEN, session=CannedSession(AiohttpSession()), default=default)
        built["reference"] = reference_bot.create_dispatcher(admins), bot
    if "crypto-helper" in names:
        bot = Bot(TOKEN, session=CannedSession(create_bot_session(None)), default=default)
        defs = load_definitions(ROOT / "config.yaml")
        app = await stack.enter_async_context(local_app(defs, bot, admins=admins))
        built["crypto-helper"] = app.dispatcher, bot
    return built


async def burst(dp: Dispatcher, bot: Bot, updates: list[Update], profile: Any) -> float:
    """CPU seconds to handle ``updates``, fed as polling does: one task each; ``profile``:
    the context they run in (a :class:`cProfile.Profile`, or none)."""
    started = time.process_time()
    with profile:
        await asyncio.gather(*(asyncio.create_task(dp.feed_update(bot, u)) for u in updates))
    return time.process_time() - started


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    add = parser.add_argument
    add("--updates", type=int, default=2000, help="/admin_bot from new admins per burst")
    add("--repeats", type=int, default=5, help="measured bursts per bot, after one warm-up")
    add("--only", choices=BOTS, help="one bot (e.g. under py-spy)")
    add("--profile", type=int, metavar="N", help="cProfile the measured bursts: top N functions")
    args = parser.parse_args()
    names = [args.only] if args.only else list(BOTS)
    admins = frozenset(range(FIRST_ADMIN, FIRST_ADMIN + args.updates * (args.repeats + 1) * 2))
    profiles = {name: cProfile.Profile() for name in names if args.profile}
    figures: dict[str, list[float]] = {name: [] for name in names}
    tg, users = FakeTelegram(), itertools.count(FIRST_ADMIN)  # the load run's updates
    async with contextlib.AsyncExitStack() as stack:
        built = await create_bots(names, admins, stack)
        pinned = pin_response_models()  # as crypto-helper run does at start-up
        freeze_heap()
        for repeat in range(args.repeats + 1):  # the first round warms up
            for name, (dp, bot) in built.items():
                raw = [
                    tg.new_message_update(next(users), "/admin_bot") for _ in range(args.updates)
                ]
                updates = [Update.model_validate(update) for update in raw]
                gc.collect()
                profile = profiles.get(name) if repeat else None
                seconds = await burst(dp, bot, updates, profile or contextlib.nullcontext())
                if repeat:
                    figures[name].append(seconds / args.updates * 1e6)
        del pinned
    for name, profile in profiles.items():
        print(f"── {name}: the {args.profile} functions with the most own time (cProfile)")
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)
    for name, values in figures.items():
        print(
            f"{name:14} CPU per update: median {statistics.median(values):6.0f} µs "
            f"(runs: {', '.join(f'{v:.0f}' for v in values)})"
        )
    if len(figures) == len(BOTS):
        ours, ref = (statistics.median(figures[n]) for n in ("crypto-helper", "reference"))
        print(f"crypto-helper / reference: ×{ours / ref:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
