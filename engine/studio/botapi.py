"""An in-process Bot API for ``crypto-helper chat``: the bot talks to it instead of Telegram.

:class:`LocalBotAPI` is an aiogram session (:class:`~aiogram.client.session.base.BaseSession`)
that answers the methods the bot calls the way Telegram does, for one private chat, and
records what the person in that chat would see change (:class:`Shown`):

* ``sendMessage``, ``editMessageText``: HTML parse mode read with TDLib's rules
  (:mod:`engine.telegram`, as ``check`` does), so a text Telegram would refuse gets
  Telegram's 400 ("can't parse entities: …", "message text is empty", "message is too
  long"); an edit that changes nothing gets "message is not modified"; ``editMessageText``
  without ``reply_markup`` removes the keyboard, as Telegram does;
* ``editMessageReplyMarkup``, ``deleteMessage``, ``answerCallbackQuery`` (its text is a
  pop-up), ``setMyCommands`` (kept per language: the chat shows the menu), ``getMe``,
  ``deleteWebhook``, ``sendChatAction`` and the other calls with nothing to show;
* any other method: 404 "Not Found", as Telegram answers an unknown method.

Answers go through aiogram's own ``prepare_value`` (defaults such as the HTML parse mode;
un-dumped, through :func:`engine.bot.session.prepared_params`, whose private keyword is
guarded by ``tests/engine/test_private_api_contracts.py``) and ``check_response`` (the
same pydantic models and exceptions as from Telegram), so the bot cannot tell it from a real
session. :meth:`LocalBotAPI.message_update` and
:meth:`LocalBotAPI.tap_update` build the updates a user's client would send.

Why hand-written: aiogram ships no offline Bot API; aiogram-dialog's test tools replace the
bot and its message manager (``FakeBot``, ``MockMessageManager``), so the real message
manager, the real session path and Telegram's answers would not be exercised.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from engine.bot.session import prepared_params
from engine.telegram import (
    MAX_CALLBACK_ANSWER,
    MAX_TEXT,
    TelegramTextError,
    fix_formatted_text,
    parse_html,
)

BOT_USER = {"id": 42, "is_bot": True, "first_name": "Crypto Helper", "username": "local_bot"}
TOKEN = f"{BOT_USER['id']}:LOCAL-CHAT-NO-TOKEN"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query id is invalid"
# Methods that change nothing a person sees; answered True.
_SILENT = frozenset(
    {
        "deleteWebhook",
        "setWebhook",
        "deleteMyCommands",
        "sendChatAction",
        "setChatMenuButton",
        "close",
        "logOut",
    }
)


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status and description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class Button:
    """An inline keyboard button: its label and what a tap does (data, or a link)."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class ChatMessage:
    """A message of the chat as the user's client shows it now.

    Attributes:
        html: the text as the bot sent it (Telegram HTML), or the user's text.
        text, entities: what Telegram stores (visible text, Bot API entities).
        markup: the ``reply_markup`` JSON, for the updates that carry this message.
    """

    message_id: int
    from_bot: bool
    html: str
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)
    markup: dict[str, Any] | None = None
    date: int = field(default_factory=lambda: int(time.time()))

    @property
    def keyboard(self) -> tuple[tuple[Button, ...], ...]:
        """The inline keyboard's rows."""
        rows = (self.markup or {}).get("inline_keyboard") or []
        return tuple(
            tuple(
                Button(str(b.get("text", "")), b.get("callback_data"), b.get("url")) for b in row
            )
            for row in rows
        )

    @property
    def buttons(self) -> list[Button]:
        """The keyboard's buttons, row by row: a button's number is its index + 1."""
        return [button for row in self.keyboard for button in row]


@dataclass(frozen=True)
class Shown:
    """Something the user sees change: a message sent, edited (its text, or only its
    keyboard), deleted, or a pop-up."""

    kind: Literal["sent", "edited", "keyboard", "deleted", "popup"]
    message: ChatMessage | None = None
    text: str = ""


class LocalBotAPI(BaseSession):
    """Telegram for one private chat with ``user``, in this process (see the module doc).

    Args:
        user: the Bot API ``User`` object of the person chatting (``id`` is the chat id).
    """

    def __init__(self, user: dict[str, Any]) -> None:
        super().__init__()
        self.user = dict(user)
        self.chat_id = int(user["id"])
        self.messages: dict[int, ChatMessage] = {}
        self.shown: list[Shown] = []
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.calls: list[str] = []
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": lambda _: dict(BOT_USER),
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": lambda p: self.commands.get(str(p.get("language_code") or ""), []),
        }

    # -- the session ---------------------------------------------------------------------

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        name = method.__api_method__
        self.calls.append(name)
        params, _ = prepared_params(self, bot, method)
        try:
            result = self.answer(name, params)
        except ApiError as exc:
            status = exc.status
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
        else:
            status, body = 200, {"ok": True, "result": result}
        response = self.check_response(
            bot=bot, method=method, status_code=status, content=json.dumps(body)
        )
        return response.result  # type: ignore[return-value]

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - aiogram's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        raise ApiError(404, "Not Found: files are not served by the local chat")
        yield b""  # pragma: no cover - makes this an async generator

    async def close(self) -> None:
        """Nothing to release: no connection was opened."""

    def answer(self, name: str, params: dict[str, Any]) -> Any:
        """The ``result`` of Bot API method ``name``.

        Raises:
            ApiError: what Telegram would answer instead (400, 404).
        """
        handler = self._methods.get(name)
        if handler is not None:
            return handler(params)
        if name in _SILENT:
            return True
        raise ApiError(404, "Not Found")

    # -- what the user does --------------------------------------------------------------

    def message_update(self, text: str) -> dict[str, Any]:
        """The user sends ``text``: the message is added to the chat; returns its update."""
        entities = []
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities.append({"type": "bot_command", "offset": 0, "length": _utf16(command)})
        message = ChatMessage(next(self._message_ids), False, text, text, entities)
        self.messages[message.message_id] = message
        return {"update_id": next(self._update_ids), "message": self.message_json(message)}

    def tap_update(self, message: ChatMessage, button: Button) -> dict[str, Any]:
        """The user taps ``button`` (a callback button) on ``message``; returns the update."""
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": query_id,
                "from": dict(self.user),
                "message": self.message_json(message),
                "chat_instance": str(self.chat_id),
                "data": button.callback_data,
            },
        }

    def message_json(self, message: ChatMessage) -> dict[str, Any]:
        """``message`` as a Bot API ``Message`` object."""
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": {"id": self.chat_id, "type": "private", "first_name": self.user["first_name"]},
            "from": dict(BOT_USER) if message.from_bot else dict(self.user),
            "text": message.text,
        }
        if message.entities:
            body["entities"] = message.entities
        if message.markup:
            body["reply_markup"] = message.markup
        return body

    def drain(self) -> list[Shown]:
        """What changed since the last call, in order."""
        shown, self.shown = self.shown, []
        return shown

    # -- methods ---------------------------------------------------------------------------

    def _chat(self, params: dict[str, Any]) -> None:
        if str(params.get("chat_id")) != str(self.chat_id):
            raise ApiError(400, "Bad Request: chat not found")

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        self._chat(params)
        source = str(params.get("text") or "")
        text, entities = _read_text(source, params.get("parse_mode"))
        message = ChatMessage(
            next(self._message_ids), True, source, text, entities, _markup(params)
        )
        self.messages[message.message_id] = message
        self.shown.append(Shown("sent", message))
        return self.message_json(message)

    def _target(self, params: dict[str, Any]) -> ChatMessage:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        self._chat(params)
        message = self.messages.get(_int(params.get("message_id")))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._target(params)
        source = str(params.get("text") or "")
        text, entities = _read_text(source, params.get("parse_mode"))
        markup = _markup(params)
        if (message.text, message.entities, message.markup) == (text, entities, markup):
            raise ApiError(400, NOT_MODIFIED)
        message.html, message.text, message.entities, message.markup = (
            source,
            text,
            entities,
            markup,
        )
        self.shown.append(Shown("edited", message))
        return {**self.message_json(message), "edit_date": int(time.time())}

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._target(params)
        markup = _markup(params)
        if message.markup == markup:
            raise ApiError(400, NOT_MODIFIED)
        message.markup = markup
        self.shown.append(Shown("keyboard", message))
        return {**self.message_json(message), "edit_date": int(time.time())}

    def _delete_message(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        message = self.messages.pop(_int(params.get("message_id")), None)
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        self.shown.append(Shown("deleted", message))
        return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise ApiError(400, QUERY_INVALID)
        text = str(params.get("text") or "")
        if len(text) > MAX_CALLBACK_ANSWER:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        if text:
            self.shown.append(Shown("popup", text=text))
        return True

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands") or []
        self.commands[str(params.get("language_code") or "")] = [
            {"command": str(c["command"]), "description": str(c["description"])} for c in commands
        ]
        return True


def _read_text(source: str, parse_mode: object) -> tuple[str, list[dict[str, Any]]]:
    """The text and entities Telegram would store, or its 400."""
    if not source:
        raise ApiError(400, "Bad Request: message text is empty")
    mode = getattr(parse_mode, "value", parse_mode)  # aiogram's ParseMode enum, or a string
    if str(mode or "").lower() == "html":
        try:
            formatted = fix_formatted_text(parse_html(source))
        except TelegramTextError as exc:
            if exc.telegram == "Text must be non-empty":
                raise ApiError(400, "Bad Request: message text is empty") from exc
            raise ApiError(400, f"Bad Request: can't parse entities: {exc.telegram}") from exc
        text, entities = formatted.text, [e.as_dict() for e in formatted.entities]
    else:
        text, entities = source.strip(), []
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
    if len(text) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    return text, entities


def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
    """An inline keyboard (None for none; other keyboards are not shown in the chat)."""
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict) or not markup.get("inline_keyboard"):
        return None
    return {"inline_keyboard": markup["inline_keyboard"]}


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
