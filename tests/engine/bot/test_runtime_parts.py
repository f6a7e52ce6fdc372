"""Settings, secret redaction, Telegram 429 retries, in-flight tracking."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage

from engine.bot.inflight import InFlight
from engine.bot.retry import RetryAfterMiddleware
from engine.logs import REDACTED, RedactingFormatter
from engine.settings import SettingsError, load_settings

TOKEN = "123456789:AAEexampleexampleexampleexampleexam"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (
        "BOT_TOKEN",
        "ADMIN_IDS",
        "PORT",
        "TELEGRAM_API_URL",
        "LOG_LEVEL",
        "WEBHOOK_URL",
        "WEBHOOK_SECRET",
        "REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "BOT_TOKEN: not set (create a bot with @BotFather and export it)"),
        (
            {"BOT_TOKEN": "nope"},
            "BOT_TOKEN: does not look like a bot token from @BotFather (digits:letters)",
        ),
        (
            {"BOT_TOKEN": TOKEN, "ADMIN_IDS": "12,abc"},
            "ADMIN_IDS: Telegram user ids (numbers) separated by commas, like 12345678,87654321",
        ),
        ({"BOT_TOKEN": TOKEN, "PORT": "70000"}, "PORT: a port number from 1 to 65535, like 8080"),
        (
            {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "localhost:8081"},
            "TELEGRAM_API_URL: a URL like http://127.0.0.1:8081",
        ),
    ],
)
def test_bad_environment_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as info:
        load_settings(mode="polling")
    assert str(info.value) == message
    assert TOKEN not in str(info.value)


def test_webhook_mode_needs_url_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    with pytest.raises(SettingsError, match=r"^WEBHOOK_URL: required"):
        load_settings(mode="webhook")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.com")
    with pytest.raises(SettingsError, match=r"^WEBHOOK_SECRET: required"):
        load_settings(mode="webhook")


def test_good_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / ".env").write_text(f"BOT_TOKEN={TOKEN}\nADMIN_IDS=1, 2;3\nLOG_LEVEL=debug\n")
    settings = load_settings(mode="polling")
    assert settings.admin_ids == [1, 2, 3]
    assert settings.log_level == "DEBUG"
    assert TOKEN not in repr(settings)


def test_secrets_are_redacted_everywhere_in_a_log_line() -> None:
    formatter = RedactingFormatter([TOKEN, "apilayer-secret-key", "abc"])
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/getUpdates failed")
    except RuntimeError:
        record = logging.LogRecord(
            "aiogram",
            logging.ERROR,
            __file__,
            1,
            "key %s rejected",
            ("apilayer-secret-key",),
            None,
        )
        import sys

        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert TOKEN not in text and "apilayer-secret-key" not in text
    assert f"bot{REDACTED}/getUpdates" in text
    assert "abc" not in formatter.secrets  # too short to redact safely


def test_json_log_lines_are_redacted_too() -> None:
    formatter = RedactingFormatter([TOKEN], json_lines=True)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s", (TOKEN,), None)
    assert TOKEN not in formatter.format(record)
    assert '"level": "INFO"' in formatter.format(record)


async def test_429_is_retried_after_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("engine.bot.retry.asyncio.sleep", fake_sleep)
    method = SendMessage(chat_id=1, text="hi")
    calls = 0

    async def make_request(bot, method):
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=2)
        return "sent"

    assert await RetryAfterMiddleware()(make_request, None, method) == "sent"
    assert (calls, waits) == (3, [2, 2])


async def test_429_gives_up_after_the_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr("engine.bot.retry.asyncio.sleep", no_sleep)
    method = SendMessage(chat_id=1, text="hi")

    async def make_request(bot, method):
        raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=1)

    with pytest.raises(TelegramRetryAfter):
        await RetryAfterMiddleware(attempts=3)(make_request, None, method)


async def test_in_flight_waits_for_running_updates() -> None:
    inflight = InFlight()
    release = asyncio.Event()

    async def handler(event, data):
        await release.wait()

    task = asyncio.create_task(inflight(handler, object(), {}))
    await asyncio.sleep(0)
    assert inflight.count == 1
    assert not await inflight.wait_idle(0.01)
    release.set()
    assert await inflight.wait_idle(1)
    await task
    assert inflight.count == 0
