"""What the Bot API accepts and returns, for the fake server: limits, error texts, the
records a test reads (:class:`ApiCall`, :class:`ChatMessage`) and request decoding.

Request values arrive as form fields (aiogram JSON-encodes nested objects such as
``reply_markup``), JSON bodies or query strings; the helpers here turn them into Python
values or raise :class:`ApiError` with Telegram's description.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.e2e.telegram_html import HtmlParseError, parse_html

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query id is invalid"
CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
UPDATE_TYPES_BY_DEFAULT = frozenset(
    {"message", "edited_message", "callback_query", "inline_query", "my_chat_member"}
)
SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass
class ApiCall:
    """One request the bot made. ``status`` is 0 while it is being answered."""

    seq: int
    at: float  # time.monotonic() at arrival
    method: str
    params: dict[str, Any]
    status: int = 0
    response: dict[str, Any] | None = None
    injected: bool = False  # an error the test asked for (fail_next)
    finished_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def description(self) -> str:
        return str((self.response or {}).get("description", ""))

    @property
    def chat_id(self) -> int | None:
        raw = self.params.get("chat_id")
        try:
            return int(raw) if raw is not None else None
        except (TypeError, ValueError):
            return None

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("text", "reply_markup")}
        text = self.params.get("text")
        extra = f" text={str(text)[:60]!r}" if text is not None else ""
        result = (
            "…" if not self.status else ("ok" if self.ok else f"{self.status} {self.description}")
        )
        return f"#{self.seq} {self.method} {shown}{extra} → {result}"


@dataclass
class ChatMessage:
    """A message as the user sees it now."""

    message_id: int
    chat_id: int
    from_bot: bool
    text: str
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    date: int
    seq: int  # the API call or user action that last set it
    html: str | None = None
    edits: int = 0
    document: UploadedFile | None = None  # a sendDocument message: text is its caption

    @property
    def norm(self) -> str:
        """The text with non-breaking and thin spaces as plain spaces (for assertions)."""
        return self.text.translate(SPACES)

    def entity_texts(self, kind: str) -> list[str]:
        """The text under each entity of ``kind`` ("bold", "code", ...); offsets are UTF-16."""
        units = self.text.encode("utf-16-le")
        return [
            units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
            for e in self.entities
            if e["type"] == kind
        ]

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        if not self.reply_markup:
            return []
        return list(self.reply_markup.get("inline_keyboard") or [])

    @property
    def button_texts(self) -> list[str]:
        return [str(b.get("text", "")).translate(SPACES) for row in self.buttons for b in row]

    def __str__(self) -> str:
        who = "bot" if self.from_bot else "user"
        lines = [f"[{self.message_id} {who}{' edited' if self.edits else ''}] {self.norm}"]
        if self.buttons:
            lines.append(
                "    "
                + " | ".join("  ".join(f"[{t}]" for t in _row_texts(row)) for row in self.buttons)
            )
        return "\n".join(lines)


def _row_texts(row: Iterable[dict[str, Any]]) -> list[str]:
    return [str(b.get("text", "")).translate(SPACES) for b in row]


# -- request decoding -------------------------------------------------------------------------


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON encoded request") from None
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                params[key] = value if isinstance(value, str) else UploadedFile.of(value)
    return params


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (sendDocument's upload), bytes kept."""

    filename: str
    content_type: str
    data: bytes

    @classmethod
    def of(cls, field: Any) -> UploadedFile:
        return cls(
            str(getattr(field, "filename", "") or ""),
            str(getattr(field, "content_type", "") or ""),
            field.file.read(),
        )

    def __str__(self) -> str:  # as the form's other values read: the file's name
        return self.filename


def int_param(params: dict[str, Any], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def json_param(params: dict[str, Any], name: str, error: str) -> Any:
    raw = params.get(name)
    if isinstance(raw, str):
        if raw == "":
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise bad_request(error) from None
    return raw


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def parse_text(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    raw = params.get("text")
    if raw is None or raw == "":
        raise bad_request("message text is empty")
    source = str(raw)
    mode = str(params.get("parse_mode") or "")
    if mode.lower() == "html":
        try:
            text, entities = parse_html(source)
        except HtmlParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    elif mode.lower() in ("", "markdown", "markdownv2"):
        # Markdown is not parsed by the fake: the text is kept as sent.
        text, entities = source.strip(), []
    else:
        raise bad_request("unsupported parse_mode")
    if not text:
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:  # code points (TDLib's utf8_length), not UTF-16 units
        raise bad_request("message is too long")
    return text, entities


def reply_markup(params: dict[str, Any], *, inline_only: bool = False) -> dict[str, Any] | None:
    markup = json_param(params, "reply_markup", "can't parse reply keyboard markup JSON object")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if inline_only:
            raise bad_request(
                "reply markup is not inline keyboard"
            )  # only inline markup can be edited
        return markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list):
        raise bad_request(
            'can\'t parse inline keyboard markup: field "inline_keyboard" must be an Array'
        )
    for row in rows:
        if not isinstance(row, list):
            raise bad_request("can't parse inline keyboard markup: keyboard row must be an Array")
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if "callback_data" in button:
                data = str(button["callback_data"]).encode("utf-8")
                if not 1 <= len(data) <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
            elif not BUTTON_ACTIONS & button.keys():
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
    rows = [row for row in rows if row]
    return {"inline_keyboard": rows} if rows else None  # an empty keyboard is no keyboard


def update_type(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")
