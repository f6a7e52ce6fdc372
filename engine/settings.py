"""The environment contract (also read from ``.env``): secrets and deployment settings.

Secrets live only here, never in config.yaml; their values never appear in ``repr`` or logs
(``SecretStr``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Variables read from the environment and ``.env``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    bot_token: SecretStr | None = Field(default=None, alias="BOT_TOKEN")
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list, alias="ADMIN_IDS")
    telegram_api_url: str | None = Field(default=None, alias="TELEGRAM_API_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    port: int | None = Field(default=None, alias="PORT", ge=1, le=65535)
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value
