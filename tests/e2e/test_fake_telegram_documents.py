"""The fake Bot API takes sendDocument uploads as Telegram does and keeps their bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from engine.bot.session import JsonBodySession
from tests.e2e.fake_telegram import TOKEN, FakeTelegram

USER = 502
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeTelegram) -> FakeTelegram:
    fake_server.reset()
    fake_server.open_chat(USER)
    return fake_server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(fake_server: FakeTelegram) -> AsyncIterator[Bot]:
    # The bot's own session: a request with a file goes out as aiogram's multipart form.
    session = JsonBodySession(api=TelegramAPIServer.from_base(fake_server.url))
    client = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    yield client
    await client.session.close()


async def test_a_document_is_kept_with_its_bytes_name_and_caption(
    client: Bot, fake: FakeTelegram
) -> None:
    data = "\ufeffНомер;Время\r\nK7M2QX;2026-12-01 12:30:00\r\n".encode()
    sent = await client.send_document(
        USER, BufferedInputFile(data, filename="quotes_2026-12-01.csv"), caption="<b>3</b> quotes"
    )
    assert sent.document is not None
    assert sent.document.file_name == "quotes_2026-12-01.csv"
    assert sent.document.file_size == len(data)
    assert sent.caption == "3 quotes"
    [message] = fake.documents(USER)
    assert message.document is not None and message.document.data == data
    assert message.text == "3 quotes"
    assert message.entity_texts("bold") == ["3"]


async def test_an_empty_file_or_a_long_caption_is_refused(client: Bot, fake: FakeTelegram) -> None:
    with pytest.raises(TelegramBadRequest, match="file must be non-empty"):
        await client.send_document(USER, BufferedInputFile(b"", filename="empty.csv"))
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await client.send_document(
            USER, BufferedInputFile(b"x", filename="x.csv"), caption="x" * 1025
        )
    assert fake.documents(USER) == []


async def test_a_document_to_an_unknown_chat_is_refused(client: Bot, fake: FakeTelegram) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await client.send_document(USER + 1, BufferedInputFile(b"x", filename="x.csv"))
