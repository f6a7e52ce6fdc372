"""Logging, configured once at start-up: plain or JSON lines, secrets redacted.

The bot token and API keys can reach a log line inside third-party messages (aiohttp puts
the request URL, which holds the token, into its errors). The formatter replaces every
known secret in the final text, tracebacks included, so no handler can leak one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

REDACTED = "***"


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


def setup_logging(level: str, secrets: Iterable[str], *, json_lines: bool = False) -> None:
    """Route every logger through one redacting handler on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(secrets, json_lines=json_lines))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if root.level > logging.DEBUG:  # a line per update is debugging detail, and costs CPU
        logging.getLogger("aiogram.event").setLevel(logging.WARNING)
