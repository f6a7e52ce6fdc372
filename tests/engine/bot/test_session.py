"""The Bot API session posts JSON, as Telegram accepts it; files still go as a form."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web
from aiohttp.test_utils import TestServer

from engine.app import create_bot_session

TOKEN = "42:TEST"


class Recorder:
    """A loopback Bot API: records each request's content type and parameters."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "getMe":
            await asyncio.sleep(5)
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = {
                k: v if isinstance(v, str) else "<file>" for k, v in (await request.post()).items()
            }
        self.requests.append((request.content_type, params))
        if method == "sendMessage" and params.get("text") == "bad":
            body = {"ok": False, "error_code": 400, "description": "Bad Request: nope"}
            return web.json_response(body, status=400)
        message = {
            "message_id": 7,
            "date": int(time.time()),
            "chat": {"id": 5, "type": "private"},
            "text": "ok",
        }
        return web.json_response({"ok": True, "result": message})


@pytest.fixture
async def api() -> AsyncIterator[tuple[Recorder, Bot]]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", recorder.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    session = create_bot_session(str(server.make_url("")))
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    yield recorder, bot
    await bot.session.close()
    await server.close()


async def test_a_message_is_one_json_object(api: tuple[Recorder, Bot]) -> None:
    recorder, bot = api
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="🇷🇺 RUB", callback_data="a\x1dsource:RUB")]]
    )
    sent = await bot.send_message(5, "<b>Курс</b> & co", reply_markup=keyboard)
    assert sent.message_id == 7
    [(content_type, params)] = recorder.requests
    assert content_type == "application/json"
    assert params == {
        "chat_id": 5,
        "text": "<b>Курс</b> & co",
        "parse_mode": "HTML",  # the bot's default, resolved as aiogram does
        "reply_markup": {
            "inline_keyboard": [[{"text": "🇷🇺 RUB", "callback_data": "a\x1dsource:RUB"}]]
        },
    }


async def test_telegram_errors_are_aiogram_errors(api: tuple[Recorder, Bot]) -> None:
    _, bot = api
    with pytest.raises(TelegramBadRequest, match="nope"):
        await bot.send_message(5, "bad")


async def test_files_still_go_as_a_form(api: tuple[Recorder, Bot]) -> None:
    recorder, bot = api
    await bot.send_document(5, BufferedInputFile(b"hello", filename="a.txt"), caption="c")
    [(content_type, params)] = recorder.requests
    assert content_type == "multipart/form-data"
    assert params["caption"] == "c"
    assert params["document"].startswith("attach://")
    assert "<file>" in params.values()  # the attached file itself


@pytest.mark.slow  # waits for the timeout
async def test_a_slow_answer_is_a_timeout(api: tuple[Recorder, Bot]) -> None:
    _, bot = api
    with pytest.raises(TelegramNetworkError, match="Request timeout error"):
        await bot.get_me(request_timeout=0.2)


async def test_an_unreachable_api_is_a_network_error(unused_tcp_port: int) -> None:
    bot = Bot(TOKEN, session=create_bot_session(f"http://127.0.0.1:{unused_tcp_port}"))
    try:
        with pytest.raises(TelegramNetworkError, match="ClientConnectorError"):
            await bot.get_me()
    finally:
        await bot.session.close()
