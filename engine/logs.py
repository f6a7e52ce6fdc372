"""Logging, configured once at start-up: plain or JSON lines, secrets redacted.

The bot token and API keys can reach a log line inside third-party messages (aiohttp puts
the request URL, which holds the token, into its errors). The formatter replaces every
known secret in the final text, tracebacks included, so no handler can leak one.

Tracebacks that nobody logs go the same way: :func:`setup_logging` points
``sys.excepthook`` and ``threading.excepthook`` at the ``engine`` logger, and asyncio's
default exception handler ("Task exception was never retrieved") logs to the ``asyncio``
logger, so through the same handler. ``crypto-helper run`` sets logging up first thing,
with the secrets the environment names (:func:`secrets_in_env`), and again once the
settings are read.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType

REDACTED = "***"
# Variables whose values are secrets by their name: BOT_TOKEN, WEBHOOK_SECRET, *_API_KEY…
SECRET_NAME = re.compile(r"(_TOKEN|_SECRET|PASSWORD|_KEY)$|^(REDIS|DATABASE)_URL$", re.IGNORECASE)


class RedactingFormatter(logging.Formatter):
    """Formats as usual (or as JSON), then blanks out every secret."""

    def __init__(self, secrets: Iterable[str], *, json_lines: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        # Longest first, so a secret containing another is fully hidden.
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        if self.json_lines:
            payload = {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                payload["exception"] = self.formatException(record.exc_info)
            text = json.dumps(payload, ensure_ascii=False)
        else:
            text = super().format(record)
        return self.redact(text)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


def secrets_in_env(environ: Mapping[str, str]) -> list[str]:
    """The values of variables named like secrets (``*_TOKEN``, ``*_KEY``, ``*_SECRET``,
    ``*PASSWORD``, ``REDIS_URL``, ``DATABASE_URL``): what to redact before the settings
    are read."""
    return [value for name, value in environ.items() if SECRET_NAME.search(name) and value]


def log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """``sys.excepthook``: the traceback through the (redacting) log handler."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    logging.getLogger("engine").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook``: as :func:`log_uncaught`."""
    if args.exc_value is None:
        return
    logging.getLogger("engine").critical(
        "uncaught exception in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def setup_logging(level: str, secrets: Iterable[str], *, json_lines: bool = False) -> None:
    """Route every logger, and uncaught exceptions, through one redacting handler on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(secrets, json_lines=json_lines))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    sys.excepthook = log_uncaught
    threading.excepthook = log_uncaught_in_thread
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Two lines per SQLite call of the journal's writer even at DEBUG: not worth reading.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # A line per update is debugging detail, and costs CPU; set again on every call (the
    # first call, before the settings are read, is at INFO).
    logging.getLogger("aiogram.event").setLevel(
        logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
    )
