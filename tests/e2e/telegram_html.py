"""Telegram's HTML parse mode for the fake Bot API: text + entities, or Telegram's error.

The fake and ``crypto-helper check`` share one implementation, :mod:`engine.telegram`, which
follows TDLib's ``parse_html`` and ``fix_formatted_text`` rule by rule (same tags, same
error texts, "Unsupported start tag \\"x\\" at byte offset N" with byte offsets in UTF-8,
entity offsets in UTF-16 units). Two parsers could only disagree: a text ``check`` passes
must be one the fake accepts, and ``tests/e2e/test_telegram_agreement.py`` asserts it
over a corpus through the fake's HTTP answers.

Simplifications of the fake, visible only in the returned entities: links are not
validated or turned into mentions, and TDLib's re-splitting of overlapping entities is not
done (parse_html only produces properly nested ones).
"""

from __future__ import annotations

from engine.telegram import TelegramTextError, fix_formatted_text, utf16_len
from engine.telegram import parse_html as _parse_html

HtmlParseError = TelegramTextError
"""The text is not valid Telegram HTML; ``str()`` is the part after "can't parse entities: "."""

__all__ = ["HtmlParseError", "parse_html", "utf16_len"]


def parse_html(source: str) -> tuple[str, list[dict[str, object]]]:
    """``source`` in HTML parse mode → (text as Telegram stores it, Bot API entities).

    The text is ``""`` when nothing visible is left (the caller answers "message text is
    empty", as the Bot API does for TDLib's "Text must be non-empty").

    Raises:
        HtmlParseError: what Telegram would answer after "Bad Request: can't parse entities: ".
    """
    parsed = _parse_html(source)
    try:
        fixed = fix_formatted_text(parsed)
    except TelegramTextError:
        return "", []
    return fixed.text, [entity.as_dict() for entity in fixed.entities]
