"""The environment contract (also read from ``.env``): secrets and deployment settings.

Secrets live only here, never in config.yaml; they are ``SecretStr`` so ``repr`` and logs
never show them. A missing or malformed value is reported as one line naming the variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from engine.errors import EngineError

TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,}$")
SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class SettingsError(EngineError):
    """An environment variable is missing or malformed; the message names it."""


class Settings(BaseSettings):
    """Variables read from the environment and ``.env``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

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

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not SECRET_TOKEN_RE.match(value.get_secret_value()):
            raise ValueError("use 1-256 characters A-Z a-z 0-9 _ -")
        return value


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
        message = str(err["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None
    if settings.bot_token is None:
        raise SettingsError("BOT_TOKEN: not set (create a bot with @BotFather and export it)")
    if mode == "webhook":
        if not settings.webhook_url:
            raise SettingsError("WEBHOOK_URL: required with bot.mode: webhook (public https URL)")
        if settings.webhook_secret is None:
            raise SettingsError("WEBHOOK_SECRET: required with bot.mode: webhook")
    return settings
