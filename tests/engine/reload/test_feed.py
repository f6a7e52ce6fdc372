"""The update feed: each update goes to the dispatcher current when it arrives."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates
from aiogram.types import Chat, Message, Update, User
from aiogram_dialog.test_tools.bot_client import FakeBot
from aiohttp import web
from aiohttp.test_utils import TestServer

from engine.app import create_bot_session
from engine.bot.session import JsonBodySession
from engine.bot.throttle import UserThrottle
from engine.reload.feed import Generation, UpdateFeed


class _App:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.throttle: UserThrottle | None = None


def _generation(dispatcher: Dispatcher) -> Generation:
    return Generation(None, _App(dispatcher), None, contextlib.AsyncExitStack())  # type: ignore[arg-type]


def _update(update_id: int, text: str) -> Update:
    user = User(id=7, is_bot=False, first_name="A")
    message = Message(
        message_id=update_id,
        date=datetime(2026, 1, 1),
        text=text,
        chat=Chat(id=7, type="private"),
        from_user=user,
    )
    return Update(update_id=update_id, message=message)


async def test_an_update_in_progress_finishes_on_the_old_dispatcher() -> None:
    handled: list[tuple[str, str, Any]] = []
    release = asyncio.Event()
    old, new = Dispatcher(name="old"), Dispatcher(name="new")

    @old.message()
    async def slow(message: Message, dispatcher: Dispatcher) -> None:
        await release.wait()
        handled.append(("old", message.text or "", dispatcher))

    @new.message()
    async def quick(message: Message, dispatcher: Dispatcher) -> None:
        handled.append(("new", message.text or "", dispatcher))

    first = _generation(old)
    feed = UpdateFeed(first)
    bot = FakeBot()
    # polling passes the feed itself as "dispatcher": the handlers still see their own
    in_progress = asyncio.create_task(feed.feed_update(bot, _update(1, "before"), dispatcher=feed))
    await asyncio.sleep(0.01)
    assert first.counter.count == 1
    second = _generation(new)
    assert feed.switch(second) is first
    await feed.feed_update(bot, _update(2, "after"), dispatcher=feed)
    assert handled == [("new", "after", new)]
    release.set()
    await in_progress
    assert handled[1] == ("old", "before", old)
    assert await first.counter.wait_idle(0.1) and second.counter.count == 0


async def test_polling_asks_for_the_update_types_a_reload_set() -> None:
    asked: list[Any] = []

    async def get_updates(request: web.Request) -> web.Response:
        asked.append((await request.json()).get("allowed_updates"))
        return web.json_response({"ok": True, "result": []})

    app = web.Application()
    app.router.add_post("/bot{token}/getUpdates", get_updates)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    session = create_bot_session(str(server.make_url("")))
    bot = Bot("42:TEST", session=session)
    try:
        # aiogram's polling makes one GetUpdates and sends it again and again
        method = GetUpdates(timeout=0, allowed_updates=["message"])
        await bot(method)
        assert isinstance(session, JsonBodySession)
        session.allowed_updates = ["message", "callback_query", "inline_query"]
        await bot(method)
        assert asked == [["message"], ["message", "callback_query", "inline_query"]]
    finally:
        await bot.session.close()
        await server.close()
