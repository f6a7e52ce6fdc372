"""Telegram's 429 waited out: one deadline per chat, and never long inside a user's handler."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, SendMessage, SetMyCommands

from engine.bot.retry import RetryAfterMiddleware


class Telegram:
    """Refuses every request to a chat until ``until`` (its clock), like a flood wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.until = 0.0
        self.sent: list[tuple[float, Any]] = []
        self.refused = 0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now

    async def request(self, bot: Any, method: Any) -> Any:
        if self.now < self.until:
            self.refused += 1
            raise TelegramRetryAfter(method, "Too Many Requests", int(self.until - self.now))
        self.sent.append((self.now, method))
        return "ok"


def middleware(telegram: Telegram, **kwargs: Any) -> RetryAfterMiddleware:
    return RetryAfterMiddleware(clock=telegram.clock, sleep=telegram.sleep, **kwargs)


async def test_a_short_429_is_waited_out() -> None:
    telegram = Telegram()
    retry = middleware(telegram)
    telegram.until = 2
    assert await retry(telegram.request, None, SendMessage(chat_id=1, text="x")) == "ok"
    assert telegram.sent[0][0] == 2 and telegram.refused == 1


async def test_the_chats_next_requests_wait_for_the_same_deadline() -> None:
    telegram = Telegram()
    retry = middleware(telegram, hold=2.5)
    telegram.until = 3
    with pytest.raises(TelegramRetryAfter):  # 3 s > hold: gives up at the first 429
        await retry(telegram.request, None, SendMessage(chat_id=1, text="a"))
    telegram.now = 1
    await retry(telegram.request, None, SendMessage(chat_id=1, text="b"))
    assert telegram.refused == 1  # the second one waited for the deadline instead of asking
    assert [at for at, _ in telegram.sent] == [3]


async def test_a_long_wait_is_not_held_inside_the_handler() -> None:
    """Five 429s of 5 s each kept the user's lock ~24 s; now the request gives up at once."""
    telegram = Telegram()
    retry = middleware(telegram, hold=5.0)
    telegram.until = 20
    with pytest.raises(TelegramRetryAfter):
        await retry(telegram.request, None, SendMessage(chat_id=1, text="x"))
    assert telegram.now == 0 and telegram.refused == 1
    # the user's next input after the flood wait: sent at once, no 429 asked for
    telegram.now = 20
    await retry(telegram.request, None, SendMessage(chat_id=1, text="y"))
    assert telegram.refused == 1 and telegram.sent[-1][0] == 20


async def test_a_chat_in_a_long_flood_wait_is_refused_without_asking() -> None:
    telegram = Telegram()
    retry = middleware(telegram, hold=5.0)
    telegram.until = 20
    with pytest.raises(TelegramRetryAfter):
        await retry(telegram.request, None, SendMessage(chat_id=1, text="x"))
    telegram.now = 2
    with pytest.raises(TelegramRetryAfter, match=r"waits 18\.0 s more"):
        await retry(telegram.request, None, SendMessage(chat_id=1, text="y"))
    assert telegram.refused == 1
    # another chat is not affected
    telegram.until = 0
    await retry(telegram.request, None, SendMessage(chat_id=2, text="z"))


async def test_callback_answers_are_held_briefly_too() -> None:
    telegram = Telegram()
    retry = middleware(telegram, hold=5.0)
    telegram.until = 10
    with pytest.raises(TelegramRetryAfter):
        await retry(telegram.request, None, AnswerCallbackQuery(callback_query_id="1"))
    assert telegram.now == 0


async def test_requests_without_a_chat_wait_up_to_max_wait() -> None:
    telegram = Telegram()
    retry = middleware(telegram, hold=5.0)
    telegram.until = 30
    await retry(telegram.request, None, SetMyCommands(commands=[]))
    assert telegram.sent[0][0] == 30


async def test_attempts_are_bounded() -> None:
    telegram = Telegram()
    retry = middleware(telegram, attempts=2)
    telegram.until = 1

    async def always_refused(bot: Any, method: Any) -> Any:
        telegram.refused += 1
        raise TelegramRetryAfter(method, "Too Many Requests", 1)

    with pytest.raises(TelegramRetryAfter):
        await retry(always_refused, None, SendMessage(chat_id=1, text="x"))
    assert telegram.refused == 2
