"""A malformed environment variable is said the way the person editing .env can act on."""

from __future__ import annotations

import pytest

from engine.settings import SettingsError, load_settings

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "ADMIN_IDS",
            "12 34",
            "ADMIN_IDS: Telegram user ids (numbers) separated by commas, like 12345678,87654321",
        ),
        ("PORT", "http", "PORT: a port number from 1 to 65535, like 8080"),
        ("LOG_LEVEL", "verbose", "LOG_LEVEL: one of DEBUG, INFO, WARNING, ERROR"),
        (
            "BOT_TOKEN",
            "12345",
            "BOT_TOKEN: does not look like a bot token from @BotFather (digits:letters)",
        ),
    ],
)
def test_a_malformed_variable_is_named_with_what_it_must_look_like(
    monkeypatch: pytest.MonkeyPatch, tmp_path, name: str, value: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings(mode="polling")
    assert str(error.value) == message
