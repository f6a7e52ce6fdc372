"""Updates are read one by one: one aiogram cannot parse is logged, counted and skipped.

Also the contract with the aiogram internals this relies on: polling goes through
``Dispatcher._listen_updates``, which sends ``GetUpdates`` through the session (whose
``check_response`` we override) and moves the offset past each update it yields; the
webhook handler's ``_handle_request_background`` / ``_handle_request``. If aiogram changes
them, these tests fail: read engine/bot/updates.py and engine/bot/webhook.py again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiogram
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import GetUpdates
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import BaseRequestHandler, SimpleRequestHandler
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from engine.app import create_bot_session
from engine.bot.session import JsonBodySession
from engine.bot.updates import SkippedUpdates
from engine.bot.webhook import UpdateRequestHandler
from engine.metrics import BotMetrics

TOKEN = "42:TEST"
PRIVATE_TEXT = "my card number 4276"  # user data: never in a log line


def message(update_id: int, text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": 5, "type": "private", "first_name": "Ann"},
            "from": {"id": 5, "is_bot": False, "first_name": "Ann"},
            "text": text,
            **extra,
        },
    }


def poison(update_id: int) -> dict[str, Any]:
    """A message forwarded from an origin this aiogram does not know."""
    origin = {"type": "future_kind", "date": 0, "sender_name": "Bob Secret"}
    return message(update_id, PRIVATE_TEXT, forward_origin=origin)


class Batches:
    """A loopback Bot API answering getUpdates with the given batches, recording offsets."""

    def __init__(self, batches: list[list[dict[str, Any]]]) -> None:
        self.batches = batches
        self.offsets: list[int | None] = []

    async def handle(self, request: web.Request) -> web.Response:
        params = await request.json()
        self.offsets.append(params.get("offset"))
        batch = self.batches.pop(0) if self.batches else []
        if not batch:
            await asyncio.sleep(0.05)
        return web.json_response({"ok": True, "result": batch})


@pytest.fixture
async def serve_batches() -> AsyncIterator[Any]:
    servers: list[TestServer] = []
    bots: list[Bot] = []

    async def start(batches: list[list[dict[str, Any]]]) -> tuple[Batches, Bot, SkippedUpdates]:
        fake = Batches(batches)
        app = web.Application()
        app.router.add_post("/bot{token}/getUpdates", fake.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        skipped = SkippedUpdates()
        bot = Bot(TOKEN, session=create_bot_session(str(server.make_url("")), skipped))
        bots.append(bot)
        return fake, bot, skipped

    yield start
    for bot in bots:
        await bot.session.close()
    for server in servers:
        await server.close()


async def take(bot: Bot, count: int) -> list[int]:
    """The ids of the first ``count`` updates aiogram's own polling loop yields."""
    ids: list[int] = []
    async with asyncio.timeout(5):
        async for update in Dispatcher._listen_updates(bot, polling_timeout=0):
            ids.append(update.update_id)
            if len(ids) == count:
                break
    return ids


async def test_polling_skips_a_poison_update_and_confirms_it(
    serve_batches: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake, bot, skipped = await serve_batches(
        [
            [poison(10), message(11), poison(12)],  # the last one skipped: aiogram says 12
            [poison(13), {"no": "update_id"}],  # nothing to yield at all
            [message(14)],
        ]
    )
    counted: list[str] = []
    skipped.count_with(lambda reason, count: counted.extend([reason] * count))
    caplog.set_level(logging.WARNING)
    assert await take(bot, 2) == [11, 14]
    # Each getUpdates confirms everything before it, skipped updates included.
    assert fake.offsets == [None, 13, 14]
    assert counted == ["invalid", "invalid", "invalid", "malformed"]
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.bot.updates"]
    assert lines[0] == (
        f"update 10 skipped (invalid): aiogram {aiogram.__version__} cannot read this message: "
        "message.forward_origin: union_tag_invalid (tag 'future_kind')"
    )
    assert lines[-1] == "update skipped (malformed): not a Telegram update (no integer update_id)"
    assert [line.split(" (")[0] for line in lines] == [
        "update 10 skipped",
        "update 12 skipped",
        "update 13 skipped",
        "update skipped",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    assert PRIVATE_TEXT not in caplog.text and "Bob Secret" not in caplog.text


async def test_polling_errors_stay_aiograms(serve_batches: Any) -> None:
    """A failed getUpdates (409, not JSON) raises as before: aiogram backs off and logs."""
    _, bot, _ = await serve_batches([])
    session = bot.session
    assert isinstance(session, JsonBodySession)
    method = GetUpdates()
    with pytest.raises(Exception, match="Conflict"):
        session.check_response(
            bot, method, 409, '{"ok": false, "error_code": 409, "description": "Conflict"}'
        )
    with pytest.raises(Exception, match="decode"):
        session.check_response(bot, method, 200, "<html>")


def test_the_aiogram_internals_relied_on_are_there() -> None:
    """Fails loudly when aiogram moves what engine/bot/updates.py and webhook.py override."""
    listen = inspect.getsource(Dispatcher._listen_updates)
    assert "GetUpdates(" in listen and "await bot(get_updates" in listen, (
        "aiogram's polling no longer sends GetUpdates through the session: skipped updates "
        "would fail the batch again (engine/bot/session.py check_response)"
    )
    assert "get_updates.offset = update.update_id + 1" in listen, (
        "aiogram computes the polling offset differently: check SkippedUpdates.confirm"
    )
    params = list(inspect.signature(BaseSession.check_response).parameters)
    assert params == ["self", "bot", "method", "status_code", "content"], params
    for name in ("_handle_request_background", "_handle_request"):
        assert list(inspect.signature(getattr(BaseRequestHandler, name)).parameters) == [
            "self",
            "bot",
            "request",
        ], f"aiogram's webhook handler changed {name}: check engine/bot/webhook.py"
    source = inspect.getsource(BaseRequestHandler.handle)
    assert "_handle_request_background(" in source and "_handle_request(" in source
    assert "_background_feed_update_tasks" in inspect.getsource(BaseRequestHandler.__init__)
    assert inspect.signature(SimpleRequestHandler).parameters["handle_in_background"].default


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[TestClient[Any, Any], list[int], BotMetrics]]:
    dispatcher = Dispatcher()
    seen: list[int] = []

    @dispatcher.message()
    async def record(msg: Message) -> None:
        seen.append(msg.message_id)

    metrics = BotMetrics(process=False)
    skipped = SkippedUpdates()
    skipped.count_with(metrics.count_skipped_update)
    bot = Bot(TOKEN)
    app = web.Application()
    UpdateRequestHandler(dispatcher, bot, skipped=skipped, secret_token="s3cret-token").register(
        app, path="/hook"
    )
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client, seen, metrics
    await client.close()
    await bot.session.close()


HEADERS = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}


@pytest.mark.parametrize(
    "body", ["{not json", "[1, 2]", '{"foo": 1}', '{"update_id": "7"}', b"\xff\xfe"]
)
async def test_webhook_body_that_is_no_update_is_400(
    webhook: Any, body: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    client, seen, metrics = webhook
    resp = await client.post("/hook", data=body, headers=HEADERS)
    assert resp.status == 400
    assert seen == []
    assert 'crypto_helper_updates_skipped_total{reason="malformed"} 1.0' in (
        metrics.render().decode()
    )
    assert [r.levelname for r in caplog.records] == ["WARNING"]


async def test_webhook_skips_an_update_it_cannot_read_with_200(
    webhook: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, seen, metrics = webhook
    resp = await client.post("/hook", json=poison(21), headers=HEADERS)
    assert resp.status == 200
    resp = await client.post("/hook", json=message(22), headers=HEADERS)
    assert resp.status == 200
    await asyncio.sleep(0.05)  # handled in the background
    assert seen == [22]
    text = metrics.render().decode()
    assert 'crypto_helper_updates_skipped_total{reason="invalid"} 1.0' in text
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.getMessage().startswith("update 21 skipped (invalid): ")
    assert PRIVATE_TEXT not in caplog.text


async def test_webhook_without_the_secret_is_still_refused(webhook: Any) -> None:
    client, _, _ = webhook
    resp = await client.post("/hook", data="{not json")
    assert resp.status == 401
