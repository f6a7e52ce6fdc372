"""The user's locale: their Telegram language if we have templates for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def pick_locale(language_code: str | None, locales: Sequence[str], default: str) -> str:
    """``ru-RU`` → ``ru`` when ``ru`` is a template locale, else ``default``."""
    if language_code:
        short = language_code.split("-")[0].lower()
        if short in locales:
            return short
    return default


def user_locale(user: Any, locales: Sequence[str], default: str) -> str:
    """Locale of an aiogram ``User`` (or ``None``)."""
    return pick_locale(getattr(user, "language_code", None), locales, default)
