"""Inline mode for the fake Bot API: what ``answerInlineQuery`` must hold, as Telegram checks
it, and the answer as a test reads it (:class:`InlineAnswer`).

Refused with 400, with the error Telegram's MTProto layer gives (``Bad Request: <NAME>``):

* more than 50 results: ``RESULTS_TOO_MUCH``;
* a result id that is missing, empty or over 64 bytes: ``RESULT_ID_INVALID``; two results
  with one id: ``RESULT_ID_DUPLICATE``;
* an article without a title: ``ARTICLE_TITLE_EMPTY``; without ``input_message_content`` or
  with an empty ``message_text``: ``MESSAGE_EMPTY``; a ``message_text`` Telegram cannot
  parse in its ``parse_mode`` (HTML: the fake's TDLib-like parser and the project's own
  checker, :func:`engine.telegram.check_html`, must both take it): "can't parse entities";
  over 4096 characters after parsing: ``MESSAGE_TOO_LONG``;
* a ``button`` whose text is missing or blank: ``SWITCH_PM_TEXT_EMPTY``; with neither or
  both of ``start_parameter`` and ``web_app``; a ``start_parameter`` that is not 1-64 of
  ``A-Z a-z 0-9 _ -``: ``START_PARAM_INVALID``;
* a negative ``cache_time``.

Only article results are modelled (the bot sends no other kind); another type is refused
as a type the fake does not know, so a test notices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.telegram import check_html
from tests.e2e.telegram_wire import (
    ApiError,
    bad_request,
    int_param,
    json_param,
    parse_text,
    truthy,
)

MAX_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
_START_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class InlineResult:
    """One article as the user's client shows it in the list, and the message it sends."""

    id: str
    title: str
    description: str
    text: str  # visible text of the message it sends
    entities: list[dict[str, Any]]
    html: str  # message_text as sent
    parse_mode: str | None

    @property
    def norm(self) -> str:
        """The message text with non-breaking and thin spaces as plain spaces."""
        return self.text.translate(str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "}))


@dataclass(frozen=True)
class InlineAnswer:
    """An accepted ``answerInlineQuery``."""

    query_id: str
    results: list[InlineResult] = field(default_factory=list)
    button_text: str | None = None
    start_parameter: str | None = None
    cache_time: int = 300  # Telegram's default
    is_personal: bool = False


def read_inline_answer(params: dict[str, Any]) -> InlineAnswer:
    """``answerInlineQuery``'s parameters checked as Telegram checks them.

    Raises:
        ApiError: what Telegram answers for the first thing it refuses.
    """
    query_id = str(params.get("inline_query_id") or "")
    raw = json_param(params, "results", "can't parse inline query results JSON object")
    if not isinstance(raw, list):
        raise bad_request("can't parse inline query results JSON object")
    if len(raw) > MAX_RESULTS:
        raise bad_request("RESULTS_TOO_MUCH")
    results: list[InlineResult] = []
    seen: set[str] = set()
    for item in raw:
        result = _article(item)
        if result.id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result.id)
        results.append(result)
    cache_time = int_param(params, "cache_time", 300)
    if cache_time < 0:
        raise bad_request("invalid cache_time specified")
    text, start = _button(json_param(params, "button", "can't parse inline query button JSON"))
    return InlineAnswer(
        query_id, results, text, start, cache_time, truthy(params.get("is_personal"))
    )


def _article(item: Any) -> InlineResult:
    if not isinstance(item, dict):
        raise bad_request("can't parse inline query result")
    result_id = item.get("id")
    if not isinstance(result_id, str) or not result_id:
        raise bad_request("RESULT_ID_INVALID")
    if len(result_id.encode("utf-8")) > MAX_RESULT_ID_BYTES:
        raise bad_request("RESULT_ID_INVALID")
    if item.get("type") != "article":
        raise bad_request(f"the fake knows article results only, not {item.get('type')!r}")
    title = str(item.get("title") or "")
    if not title.strip():
        raise bad_request("ARTICLE_TITLE_EMPTY")
    content = item.get("input_message_content")
    if not isinstance(content, dict) or not content.get("message_text"):
        raise bad_request("MESSAGE_EMPTY")
    source = str(content["message_text"])
    mode = content.get("parse_mode")
    try:
        text, entities = parse_text({"text": source, "parse_mode": mode})
    except ApiError as exc:
        if "too long" in exc.description:
            raise bad_request("MESSAGE_TOO_LONG") from None
        if "empty" in exc.description:
            raise bad_request("MESSAGE_EMPTY") from None
        raise
    if str(mode or "").lower() == "html":
        found = check_html(source)
        if found:
            raise bad_request(f"can't parse entities: {found[0].message}")
    return InlineResult(
        result_id,
        title,
        str(item.get("description") or ""),
        text,
        entities,
        source,
        str(mode) if mode is not None else None,
    )


def _button(button: Any) -> tuple[str | None, str | None]:
    if button is None:
        return None, None
    if not isinstance(button, dict):
        raise bad_request("can't parse inline query button JSON")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("SWITCH_PM_TEXT_EMPTY")
    start, web_app = button.get("start_parameter"), button.get("web_app")
    if (start is None) == (web_app is None):
        raise bad_request("InlineQueryResultsButton must have exactly one optional field")
    if start is not None and not _START_PARAMETER.fullmatch(str(start)):
        raise bad_request("START_PARAM_INVALID")
    return text, str(start) if start is not None else None
