"""The fake Bot API's inline mode answers aiogram as Telegram does: inline queries arrive as
updates, answerInlineQuery is taken once per query and refused where Telegram refuses it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
)

from tests.e2e.fake_telegram import QUERY_INVALID, TOKEN, FakeTelegram

USER = 502
CLIENT = 7_000_001

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeTelegram) -> FakeTelegram:
    fake_server.reset()
    fake_server.set_inline_mode(True)
    return fake_server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(fake_server: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake_server.url))
    client = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    yield client
    await client.session.close()


def article(
    result_id: str = "Q1-ru",
    text: str = "<b>Обмен</b> RUB → USDT",
    title: str = "RU · 1000 RUB → 11,49 USDT",
    **content: Any,
) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=result_id,
        title=title,
        description="Курс для клиента",
        input_message_content=InputTextMessageContent(message_text=text, **content),
    )


async def query_id(fake: FakeTelegram, client: Bot, text: str = "1000 rub usdt 2") -> str:
    """The user types ``@bot text``; the bot reads the update; its query id."""
    sent = fake.user_inline_query(USER, text, language_code="en")
    updates = await client.get_updates(timeout=0)
    [update] = [u for u in updates if u.inline_query is not None and u.inline_query.id == sent]
    assert update.inline_query is not None
    assert (update.inline_query.query, update.inline_query.from_user.id) == (text, USER)
    assert update.inline_query.from_user.language_code == "en"
    assert update.inline_query.chat_type == "private"
    await client.get_updates(offset=update.update_id + 1, timeout=0)
    return sent


async def test_an_answer_is_recorded_as_the_user_sees_it(fake: FakeTelegram, client: Bot) -> None:
    qid = await query_id(fake, client)
    await client.answer_inline_query(
        qid,
        [article("Q1-ru"), article("Q1-en", text="<b>Exchange</b> RUB → USDT")],
        cache_time=5,
        is_personal=True,
    )
    answer = await fake.wait_for_inline_answer(qid)
    assert [(r.id, r.text, r.parse_mode) for r in answer.results] == [
        ("Q1-ru", "Обмен RUB → USDT", "HTML"),
        ("Q1-en", "Exchange RUB → USDT", "HTML"),
    ]
    assert answer.results[0].entities == [{"type": "bold", "offset": 0, "length": 5}]
    assert (answer.cache_time, answer.is_personal, answer.button_text) == (5, True, None)
    shown = fake.user_picks_inline_result(qid, "Q1-en", CLIENT)
    assert (shown.text, shown.from_bot) == ("Exchange RUB → USDT", False)
    assert fake.messages(CLIENT) == [shown]
    assert fake.messages(USER) == []  # typing inline opens no chat with the bot


async def test_a_query_is_answered_once(fake: FakeTelegram, client: Bot) -> None:
    qid = await query_id(fake, client)
    await client.answer_inline_query(qid, [])
    for again in (qid, "12345"):
        with pytest.raises(TelegramBadRequest) as caught:
            await client.answer_inline_query(again, [])
        assert caught.value.message == QUERY_INVALID


async def test_no_result_and_a_button(fake: FakeTelegram, client: Bot) -> None:
    qid = await query_id(fake, client)
    button = InlineQueryResultsButton(text="Staff only · open the bot", start_parameter="inline")
    await client.answer_inline_query(qid, [], button=button, is_personal=True, cache_time=60)
    answer = await fake.wait_for_inline_answer(qid)
    assert (answer.results, answer.button_text, answer.start_parameter) == (
        [],
        "Staff only · open the bot",
        "inline",
    )


@pytest.mark.parametrize(
    ("results", "error"),
    [
        ([article(f"id{i}") for i in range(51)], "RESULTS_TOO_MUCH"),
        ([article("x" * 65)], "RESULT_ID_INVALID"),
        ([article("й" * 33)], "RESULT_ID_INVALID"),  # 66 bytes: ids count bytes
        ([article("")], "RESULT_ID_INVALID"),
        ([article("a"), article("a")], "RESULT_ID_DUPLICATE"),
        ([article(title=" ")], "ARTICLE_TITLE_EMPTY"),
        ([article(text="<b> </b>", parse_mode="HTML")], "MESSAGE_EMPTY"),
        ([article(text="я" * 4097)], "MESSAGE_TOO_LONG"),
        (
            [article(text="ok <b>x", parse_mode="HTML")],
            "can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            [article(text="<div>x</div>", parse_mode="HTML")],
            'can\'t parse entities: Unsupported start tag "div" at byte offset 0',
        ),
    ],
)
async def test_refused_as_telegram_refuses(
    fake: FakeTelegram, client: Bot, results: list[Any], error: str
) -> None:
    qid = await query_id(fake, client)
    with pytest.raises(TelegramBadRequest) as caught:
        await client.answer_inline_query(qid, results)
    assert caught.value.message == f"Bad Request: {error}"
    assert fake.inline_answer(qid) is None


async def test_fifty_results_of_64_byte_ids_are_fine(fake: FakeTelegram, client: Bot) -> None:
    qid = await query_id(fake, client)
    results = [article(f"{i:02d}" + "й" * 31) for i in range(50)]  # 2 + 62 bytes each
    await client.answer_inline_query(qid, results)
    assert len((await fake.wait_for_inline_answer(qid)).results) == 50


async def test_html_the_projects_checker_refuses_is_refused(
    fake: FakeTelegram, client: Bot
) -> None:
    """The fake's own parser and engine.telegram.check_html must both take a message."""
    qid = await query_id(fake, client)
    text = "&#55357;"  # half of a UTF-16 pair: check_html says so
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await client.answer_inline_query(qid, [article(text=text, parse_mode="HTML")])


@pytest.mark.parametrize(
    ("button", "error"),
    [
        ({"text": "  ", "start_parameter": "inline"}, "SWITCH_PM_TEXT_EMPTY"),
        ({"start_parameter": "inline"}, "SWITCH_PM_TEXT_EMPTY"),
        ({"text": "Open", "start_parameter": "in line"}, "START_PARAM_INVALID"),
        ({"text": "Open", "start_parameter": "x" * 65}, "START_PARAM_INVALID"),
        ({"text": "Open"}, "InlineQueryResultsButton must have exactly one optional field"),
    ],
)
async def test_a_button_refused(
    fake: FakeTelegram, client: Bot, button: dict[str, Any], error: str
) -> None:
    qid = await query_id(fake, client)
    answer = await fake.dispatch(
        "answerInlineQuery",
        {"inline_query_id": qid, "results": "[]", "button": json.dumps(button)},
    )
    assert answer == (
        400,
        {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"},
    )


async def test_inline_mode_off_sends_no_query(fake: FakeTelegram) -> None:
    fake.set_inline_mode(False)
    with pytest.raises(AssertionError, match="inline mode is off"):
        fake.user_inline_query(USER, "1000 rub usdt")
    assert (await fake.dispatch("getMe", {}))[1]["result"]["supports_inline_queries"] is False
