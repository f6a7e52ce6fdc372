"""The environment contract (also read from ``.env``): secrets and deployment settings.

Secrets live only here, never in config.yaml; they are ``SecretStr`` so ``repr`` and logs
never show them. A missing or malformed value is reported as one line naming the variable.
An empty value (``PORT=`` as ``.env.example`` has it) means "not set".

``.env`` is read from the current working directory, and only from there: both by
:func:`load_env_file` (which puts it into ``os.environ``, so that the API keys named in
config.yaml are found too) and by pydantic-settings. python-dotenv's ``load_dotenv()``
without a path would instead search upwards from the *calling module's* folder, which
finds a stray ``.env`` next to the installed package and never the one in the folder
the bot is started from.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from dotenv import load_dotenv
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from engine.config.loader import plain_message
from engine.errors import EngineError
from engine.journal.url import database_url_problem

TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,}$")
SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ENV_FILE = Path(".env")  # relative: the current working directory
REDIS_URL_SHAPE = "redis://[:password@]host[:port][/db] (or rediss://, unix:///path)"


# What a variable must look like, said for the person editing .env (instead of pydantic's
# words for the type).
_MEANINGS = {
    "ADMIN_IDS": "Telegram user ids (numbers) separated by commas, like 12345678,87654321",
    "PORT": "a port number from 1 to 65535, like 8080",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "LOG_FORMAT": "plain or json",
    "TELEGRAM_API_URL": "a URL like http://127.0.0.1:8081",
    "WEBHOOK_URL": "the bot's public URL, like https://bot.example.com",
}


class SettingsError(EngineError):
    """An environment variable is missing or malformed; the message names it."""


class Settings(BaseSettings):
    """Variables read from the environment and ``.env``."""

    model_config = SettingsConfigDict(
        env_file=ENV_FILE, env_ignore_empty=True, extra="ignore", frozen=True
    )

    bot_token: SecretStr | None = Field(default=None, alias="BOT_TOKEN")
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list, alias="ADMIN_IDS")
    telegram_api_url: str | None = Field(
        default=None, alias="TELEGRAM_API_URL", pattern=r"^https?://[^\s/]+(/[^\s]*)?$"
    )
    redis_url: SecretStr | None = Field(default=None, alias="REDIS_URL")
    port: int | None = Field(default=None, alias="PORT", ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="LOG_LEVEL"
    )
    log_format: Literal["plain", "json"] = Field(default="plain", alias="LOG_FORMAT")
    webhook_url: str | None = Field(
        default=None, alias="WEBHOOK_URL", pattern=r"^https?://[^\s/]+(/[^\s]*)?$"
    )
    webhook_secret: SecretStr | None = Field(default=None, alias="WEBHOOK_SECRET")
    data_dir: Path = Field(default=Path("data"), alias="DATA_DIR")
    metrics_token: SecretStr | None = Field(default=None, alias="METRICS_TOKEN")
    database_url: SecretStr | None = Field(default=None, alias="DATABASE_URL")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if value.lower() in ("debug", "info", "warning", "error") else value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TOKEN_RE.match(value.get_secret_value()):
            raise ValueError("does not look like a bot token from @BotFather (digits:letters)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (problem := redis_url_problem(value.get_secret_value())):
            raise ValueError(problem)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (problem := database_url_problem(value.get_secret_value())):
            raise ValueError(problem)
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not SECRET_TOKEN_RE.match(value.get_secret_value()):
            raise ValueError("use 1-256 characters A-Z a-z 0-9 _ -")
        return value


def redis_url_problem(url: str) -> str | None:
    """What redis-py would reject (or silently misread) in ``url``, never quoting it.

    redis-py checks only the scheme when the client is made, reports a bad port with the
    URL's text, and reads a non-numeric database (``/cache``) as database 0.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        return f"not a Redis URL; use {REDIS_URL_SHAPE}"
    if parts.scheme == "unix":
        return None if parts.path else f"no socket path; use {REDIS_URL_SHAPE}"
    try:
        parts.port  # noqa: B018 - urllib checks the port when it is read
    except ValueError:
        return f"the port is not a number from 1 to 65535; use {REDIS_URL_SHAPE}"
    database = parts.path.strip("/")
    if database and not database.isdigit():
        return f"the database is not a number; use {REDIS_URL_SHAPE}"
    return None


def load_env_file() -> None:
    """Put ``./.env`` into ``os.environ``; variables already set win over the file."""
    load_dotenv(ENV_FILE, override=False)


def load_settings(*, mode: str) -> Settings:
    """Read and check the environment for ``mode`` (polling or webhook).

    Raises:
        SettingsError: one line naming the variable and what is wrong (never its value).
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        name = str(err["loc"][0]) if err["loc"] else "environment"
        message = _MEANINGS.get(name) if err["type"] != "value_error" else None
        message = message or plain_message(err).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None
    if settings.bot_token is None:
        raise SettingsError("BOT_TOKEN: not set (create a bot with @BotFather and export it)")
    if mode == "webhook":
        if not settings.webhook_url:
            raise SettingsError("WEBHOOK_URL: required with bot.mode: webhook (public https URL)")
        if settings.webhook_secret is None:
            raise SettingsError("WEBHOOK_SECRET: required with bot.mode: webhook")
    return settings
