"""The fake Bot API answers aiogram as Telegram does (so the e2e tests can trust it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.e2e.fake_telegram import NOT_MODIFIED, QUERY_INVALID, TOKEN, FakeTelegram, post_update

USER = 501


# One fake and one aiogram client for the module (closing a client costs aiogram 0.25 s);
# the fake forgets everything between tests.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeTelegram) -> FakeTelegram:
    fake_server.reset()
    return fake_server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(fake_server: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake_server.url))
    client = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    yield client
    await client.session.close()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=f"b{i}", callback_data=d)] for i, d in enumerate(data)
        ]
    )


async def test_get_me(client: Bot) -> None:
    me = await client.get_me()
    assert (me.id, me.username) == (123456789, "crypto_helper_test_bot")


async def test_visible_text_and_entities(fake: FakeTelegram, client: Bot) -> None:
    fake.user_sends(USER, "/start")
    sent = await client.send_message(
        USER, "  <b>Курс</b>: 😀 &lt;x&gt; <i>ok</i>\n", reply_markup=keyboard("a:1")
    )
    assert sent.text == "Курс: 😀 <x> ok"
    assert [(e.type, e.offset, e.length) for e in sent.entities or []] == [
        ("bold", 0, 4),
        ("italic", 13, 2),
    ]
    shown = fake.last_message(USER)
    assert shown is not None and shown.text == "Курс: 😀 <x> ok" and shown.button_texts == ["b0"]
    assert [m.from_bot for m in fake.messages(USER)] == [False, True]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Bad Request: message text is empty"),
        ("<b> </b>", "Bad Request: message text is empty"),
        ("<b>" + "я" * 4096 + "</b>", None),
        ("я" * 4097, "Bad Request: message is too long"),
        ("😀" * 4096, None),  # 8192 UTF-16 units: Telegram counts code points
        ("😀" * 4097, "Bad Request: message is too long"),
        (
            "<div>x</div>",
            'Bad Request: can\'t parse entities: Unsupported start tag "div" at byte offset 0',
        ),
        (
            "ok <b>x",
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            "ok <b>x</i>",
            'Bad Request: can\'t parse entities: Unmatched end tag at byte offset 7, expected "</b>", found "</i>"',
        ),
        ("1 < 2", 'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2'),
        ("x <b", "Bad Request: can't parse entities: Unclosed start tag at byte offset 2"),
        ("AT&T", None),  # TDLib keeps an "&" that starts no known entity as text
        ("&nbsp;", None),
    ],
)
async def test_text_rules(fake: FakeTelegram, client: Bot, text: str, error: str | None) -> None:
    fake.user_sends(USER, "hi")
    if error is None:
        await client.send_message(USER, text)
        return
    with pytest.raises(TelegramBadRequest) as caught:
        await client.send_message(USER, text)
    assert caught.value.message == error
    assert fake.calls("sendMessage")[-1].response == {
        "ok": False,
        "error_code": 400,
        "description": error,
    }


async def test_callback_data_limit_counts_bytes(fake: FakeTelegram, client: Bot) -> None:
    fake.user_sends(USER, "hi")
    await client.send_message(USER, "ok", reply_markup=keyboard("й" * 32))  # 64 bytes
    for data in ("й" * 33, "x" * 65):
        with pytest.raises(TelegramBadRequest, match=r"Bad Request: BUTTON_DATA_INVALID$"):
            await client.send_message(USER, "ok", reply_markup=keyboard(data))


async def test_unknown_chat_and_unknown_method(fake: FakeTelegram, client: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match=r"Bad Request: chat not found$"):
        await client.send_message(999, "hi")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{fake.url}/client{TOKEN}/sendUnicorn", data={"chat_id": "1"}
        ) as resp:
            assert (resp.status, await resp.json()) == (
                404,
                {"ok": False, "error_code": 404, "description": "Not Found"},
            )
        async with http.post(f"{fake.url}/bot1:wrong/getMe") as resp:
            assert resp.status == 401


async def test_edits(fake: FakeTelegram, client: Bot) -> None:
    fake.user_sends(USER, "hi")
    sent = await client.send_message(USER, "<b>one</b>", reply_markup=keyboard("a"))
    with pytest.raises(TelegramBadRequest) as caught:
        await client.edit_message_text(
            text="<b>one</b>", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard("a")
        )
    assert caught.value.message == NOT_MODIFIED
    # same text, other entities: modified
    await client.edit_message_text(
        text="one", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard("a")
    )
    # no reply_markup in editMessageText removes the keyboard, as Telegram does
    await client.edit_message_text(text="two", chat_id=USER, message_id=sent.message_id)
    shown = fake.last_message(USER)
    assert shown is not None and (shown.text, shown.buttons, shown.edits) == ("two", [], 2)
    with pytest.raises(TelegramBadRequest, match=r"Bad Request: message is not modified"):
        await client.edit_message_reply_markup(chat_id=USER, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match=r"Bad Request: message to edit not found$"):
        await client.edit_message_text(text="x", chat_id=USER, message_id=999)
    with pytest.raises(TelegramBadRequest, match=r"Bad Request: message can't be edited$"):
        await client.edit_message_text(
            text="x", chat_id=USER, message_id=1
        )  # the user's own message
    assert await client.delete_message(USER, sent.message_id)
    assert fake.bot_messages(USER) == []
    with pytest.raises(TelegramBadRequest, match=r"Bad Request: message to delete not found$"):
        await client.delete_message(USER, sent.message_id)


async def test_injected_429(fake: FakeTelegram, client: Bot) -> None:
    fake.user_sends(USER, "hi")
    fake.fail_next("sendMessage", 1, retry_after=1)
    with pytest.raises(TelegramRetryAfter) as caught:
        await client.send_message(USER, "x")
    assert caught.value.retry_after == 1
    assert fake.calls("sendMessage")[-1].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    await client.send_message(USER, "x")  # only the next call fails
    assert fake.errors() == []  # injected errors are not the client's fault


async def test_updates_stay_until_confirmed_and_callbacks_are_answered_once(
    fake: FakeTelegram, client: Bot
) -> None:
    fake.user_sends(USER, "/start", language_code="en")
    first = await client.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["/start"]
    assert first[0].message.entities[0].type == "bot_command"  # type: ignore[union-attr,index]
    again = await client.get_updates(timeout=0)  # not confirmed yet
    assert [u.update_id for u in again] == [first[0].update_id]
    sent = await client.send_message(USER, "pick", reply_markup=keyboard("a:1", "a:2"))
    query = fake.user_clicks(USER, sent.message_id, r"^b1$")
    updates = await client.get_updates(offset=first[0].update_id + 1, timeout=1)
    assert [u.callback_query.data for u in updates if u.callback_query] == ["a:2"]
    assert updates[0].callback_query.from_user.language_code == "en"  # type: ignore[union-attr]
    assert await client.answer_callback_query(query)
    assert fake.answered_callbacks == {query} and fake.unanswered_callbacks() == []
    with pytest.raises(TelegramBadRequest) as caught:
        await client.answer_callback_query(query)
    assert caught.value.message == QUERY_INVALID


async def test_long_poll_waits_for_an_update_and_a_second_poller_wins(
    fake: FakeTelegram, client: Bot
) -> None:
    started = time.monotonic()
    poll = asyncio.ensure_future(client.get_updates(timeout=5))
    await asyncio.sleep(0.3)
    fake.user_sends(USER, "hello")
    updates = await poll
    assert [u.message.text for u in updates if u.message] == ["hello"]
    assert time.monotonic() - started < 2
    first = asyncio.ensure_future(client.get_updates(offset=updates[-1].update_id + 1, timeout=5))
    await asyncio.sleep(0.3)
    assert await client.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first


async def test_webhook_delivery_with_secret(fake: FakeTelegram, client: Bot) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/webhook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/webhook"))
        assert await client.set_webhook(url, secret_token="s3cret")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await client.get_updates(timeout=0)
        fake.user_sends(USER, "/start")
        await fake.wait_for(lambda: received, 5, "the webhook delivery")
        assert received[0][0] == "s3cret"
        assert received[0][1]["message"]["text"] == "/start"  # type: ignore[index]
        update = fake.new_message_update(USER, "by hand")
        assert (await post_update(url, update, "s3cret"))[0] == 200
        assert received[-1][1]["message"]["text"] == "by hand"  # type: ignore[index]
        info = await client.get_webhook_info()
        assert (info.url, info.pending_update_count) == (url, 0)
        assert await client.delete_webhook()
    finally:
        await server.close()


async def test_commands_per_language(fake: FakeTelegram, client: Bot) -> None:
    from aiogram.types import BotCommand

    assert await client.set_my_commands(
        [BotCommand(command="rates", description="Курсы")], language_code="ru"
    )
    assert fake.commands_for("ru") == [{"command": "rates", "description": "Курсы"}]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await client.set_my_commands([BotCommand(command="Bad-Command", description="x")])
