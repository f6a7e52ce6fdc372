"""Errors are for errors: what is not a bug is one line at WARNING or INFO, no traceback,
and nobody who blocked the bot is sent a failure notice; a click without data is answered."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramServerError,
)
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import CallbackQuery, Update, User
from bot_helpers import ADMIN, RecordingBot
from redis.exceptions import LockError

from engine.bot.errors import expected_failure
from engine.bot.storage import LockWaitTimeoutError
from engine.rates.errors import RatesUnavailableError
from providers.errors import ProviderUnavailableError

METHOD = SendMessage(chat_id=1, text="x")
BLOCKED = "Forbidden: bot was blocked by the user"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
TOO_OLD = "Bad Request: query is too old and response timeout expired or query id is invalid"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            TelegramForbiddenError(METHOD, BLOCKED),
            (logging.WARNING, f"Telegram refused to write to the user ({BLOCKED})", False),
        ),
        (
            TelegramBadRequest(METHOD, NOT_MODIFIED),
            (logging.INFO, "message is not modified (a repeated click)", False),
        ),
        (
            TelegramBadRequest(METHOD, TOO_OLD),
            (logging.INFO, "callback query too old to answer", False),
        ),
        (
            RatesUnavailableError("no quote for USDT/RUB"),
            (logging.WARNING, "RatesUnavailableError: no quote for USDT/RUB", True),
        ),
        (
            ProviderUnavailableError("rapira", "timeout"),
            (logging.WARNING, "ProviderUnavailableError: rapira: timeout", True),
        ),
        (
            TelegramServerError(METHOD, "Bad Gateway"),
            (logging.WARNING, "TelegramServerError: Telegram server says - Bad Gateway", True),
        ),
        (TelegramNetworkError(METHOD, "Request timeout error"), (logging.WARNING, "", True)),
        (TelegramBadRequest(METHOD, "Bad Request: can't parse entities"), None),
        (KeyError("amount"), None),
        (
            LockWaitTimeoutError("another update of this chat held the lock for 30 s"),
            (logging.WARNING, "", True),
        ),
        (LockError("some other lock trouble"), None),
    ],
)
def test_what_is_expected_and_what_is_a_bug(
    exc: BaseException, expected: tuple[int, str, bool] | None
) -> None:
    found = expected_failure(exc)
    if expected is not None and expected[1] == "":
        assert found is not None and found[0] == expected[0] and found[2] == expected[2]
    else:
        assert found == expected


class BlockedBot(RecordingBot):
    """Telegram answers 403 to every sendMessage: the user blocked the bot."""

    async def __call__(
        self, method: TelegramMethod[Any], request_timeout: int | None = None
    ) -> Any:
        self.calls.append(method)
        if isinstance(method, SendMessage):
            raise TelegramForbiddenError(method, BLOCKED)
        return True


async def test_a_user_who_blocked_the_bot_is_one_warning_and_no_notice(
    session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    chat = session()
    chat.bot = bot = BlockedBot()
    chat.client.bot = bot
    caplog.set_level(logging.DEBUG, logger="engine")
    await chat.client.send("/help")
    assert len(bot.sent()) == 1  # the reply; no failure notice after it
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert record.getMessage().endswith(
        f"(user {ADMIN}) not served: Telegram refused to write to the user ({BLOCKED})"
    )


async def test_a_bug_is_an_error_with_its_traceback_and_a_notice(
    session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    chat = session()

    class FailingBot(RecordingBot):
        async def __call__(
            self, method: TelegramMethod[Any], request_timeout: int | None = None
        ) -> Any:
            if isinstance(method, SendMessage) and not self.sent():
                self.calls.append(method)
                raise RuntimeError("a bug")  # the first reply fails
            return await super().__call__(method, request_timeout)

    chat.bot = bot = FailingBot()
    chat.client.bot = bot
    await chat.client.send("/help")
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert len(bot.sent()) == 2  # the reply that failed, then the failure notice


async def test_a_click_without_data_is_answered_quietly(
    session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    chat = session()
    await chat.client.send("/admin_bot")  # a dialog open in the chat: aiogram-dialog's path
    shown = chat.manager.last_message()
    chat.bot.calls.clear()
    query = CallbackQuery(
        id="q1",
        from_user=User(id=ADMIN, is_bot=False, first_name="U"),
        chat_instance="1",
        message=shown,
        game_short_name="a_game",
    )
    caplog.set_level(logging.INFO, logger="engine")
    await chat.app.dispatcher.feed_update(chat.bot, Update(update_id=9, callback_query=query))
    assert [a.callback_query_id for a in chat.bot.answers()] == ["q1"]
    assert chat.bot.sent() == []
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "callback query q1 from user 1001 has no data: answered" in caplog.text
