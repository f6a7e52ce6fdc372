"""A fake Telegram Bot API server on 127.0.0.1 that validates what Telegram validates.

The real bot is pointed at it with ``TELEGRAM_API_URL=http://127.0.0.1:PORT``; aiogram then
posts ``{base}/bot{token}/{method}`` with form fields (nested objects such as
``reply_markup`` JSON-encoded) — JSON bodies and query strings are read too.

What it answers like Telegram (``{"ok": false, "error_code": ..., "description": ...}``):

* ``getUpdates`` long polling: updates stay queued until a later call confirms them with
  ``offset``; a second poller terminates the first with 409, as does a set webhook;
  ``allowed_updates`` is remembered and honoured;
* text: HTML parse mode parsed as TDLib does (:mod:`telegram_html`), 1..4096 characters
  (code points) after parsing ("message text is empty", "message is too long");
* inline keyboards: ``callback_data`` of 1..64 bytes ("BUTTON_DATA_INVALID"), no text-only
  buttons;
* edits: "message to edit not found", "message can't be edited" (not the bot's), "message is
  not modified" when text, entities and keyboard are all unchanged; ``editMessageText``
  without ``reply_markup`` removes the keyboard, as Telegram does;
* ``answerCallbackQuery`` once per query ("query is too old ... or query id is invalid");
* inline mode (off until :meth:`FakeTelegram.set_inline_mode`, as @BotFather's /setinline):
  :meth:`FakeTelegram.user_inline_query` queues an ``inline_query``; ``answerInlineQuery``
  once per query, checked as :mod:`fake_inline` says (at most 50 results, ids of 1..64 bytes
  and unique, article titles and message texts, the button);
* ``sendDocument`` with a multipart upload (``attach://`` as aiogram sends it): a non-empty
  file of at most 50 MB, a caption of at most 1024 characters; the bytes are kept
  (:meth:`FakeTelegram.documents`);
* a wrong token → 401 "Unauthorized"; an unknown method → 404 "Not Found";
* :meth:`FakeTelegram.fail_next` makes the next calls of a method answer 429 with
  ``retry_after``; :meth:`FakeTelegram.slow_down` delays a method's answers;
* :meth:`FakeTelegram.block_bot`: a user blocked the bot, writing to them is 403;
  :meth:`FakeTelegram.inject_raw_update` queues any update JSON as it is (one this aiogram
  cannot parse), :meth:`FakeTelegram.user_clicks_without_data` a callback without data.

Webhook mode: after ``setWebhook`` the fake delivers queued updates by POSTing them to the
URL with ``X-Telegram-Bot-Api-Secret-Token`` (and executes a method returned in the
response body). Unlike Telegram it accepts a plain-HTTP loopback URL. :func:`post_update`
posts one update by hand (e.g. with a wrong secret).

Limits, error texts, the call and message records and request decoding live in
:mod:`telegram_wire`; the HTML parser in :mod:`telegram_html`.

What a test sees: :meth:`FakeTelegram.messages` (a chat as the user sees it: current text
and keyboard after edits, deleted messages gone), :attr:`FakeTelegram.api_calls` (every
call: method, params, arrival time, status, response) and the helpers ``user_sends``,
``user_clicks``, ``wait_for``, ``wait_for_screen``, ``wait_for_call``.
"""

# The wait helpers poll the fake's state with a deadline; "timeout" is their natural name.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from tests.e2e.fake_inline import InlineAnswer, InlineResult, read_inline_answer
from tests.e2e.loopback import LoopbackThread
from tests.e2e.telegram_html import utf16_len
from tests.e2e.telegram_wire import (
    CONFLICT_POLL,
    CONFLICT_WEBHOOK,
    NOT_MODIFIED,
    QUERY_INVALID,
    SPACES,
    UPDATE_TYPES_BY_DEFAULT,
    ApiCall,
    ApiError,
    ChatMessage,
    UploadedFile,
    bad_request,
    int_param,
    json_param,
    parse_text,
    read_params,
    reply_markup,
    truthy,
    update_type,
)

TOKEN = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
BOT_USERNAME = "crypto_helper_test_bot"
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")

T = TypeVar("T")
POLL_SECONDS = 0.02  # how often the wait helpers look again
MAX_CAPTION = 1024  # characters, after parsing, as for text
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # what a bot may upload
BLOCKED_BY_USER = "Forbidden: bot was blocked by the user"


@dataclass
class _Chat:
    user: dict[str, Any]
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    next_id: int = 1
    last_action_seq: int = 0


class FakeTelegram:
    """The fake Bot API. ``start()`` it, point the bot at :attr:`url`, ``stop()`` it."""

    def __init__(self, token: str = TOKEN, *, username: str = BOT_USERNAME) -> None:
        self.token = token
        self.bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Crypto Helper (test)",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._update_ids = itertools.count(700_000_001)
        self._query_ids = itertools.count(4_611_686_018_427_387_001)
        self._poll_generation = 0
        self._deliverer: asyncio.Task[None] | None = None  # pushes updates to a webhook
        self._closing = False
        self.reset()
        self._thread = LoopbackThread("fake-telegram")
        self.url = ""
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "sendDocument": self._send_document,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "answerInlineQuery": self._answer_inline_query,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "close": self._true,
                "logOut": self._true,
            }.items()
        }
        self._canonical = {
            name.lower(): name
            for name in (
                "getMe",
                "getUpdates",
                "sendMessage",
                "sendDocument",
                "editMessageText",
                "editMessageReplyMarkup",
                "deleteMessage",
                "answerCallbackQuery",
                "answerInlineQuery",
                "setMyCommands",
                "getMyCommands",
                "deleteMyCommands",
                "setWebhook",
                "deleteWebhook",
                "getWebhookInfo",
                "close",
                "logOut",
            )
        }

    def reset(self) -> None:
        """Forget every chat, call, queued update, switch, command list and webhook."""
        with self._lock:
            self.api_calls: list[ApiCall] = []
            self._updates: list[dict[str, Any]] = []
            self._chats: dict[int, _Chat] = {}
            self._queries: dict[str, int] = {}  # callback query id → user id
            self._clicks: dict[str, dict[str, Any]] = {}  # query id → its update
            self._answers: dict[str, ApiCall] = {}
            self._inline_queries: dict[str, int] = {}  # inline query id → user id
            self._inline_answers: dict[str, InlineAnswer] = {}
            self._fail: dict[str, list[int]] = {}  # method → [remaining, retry_after, status]
            self._delay: dict[str, float] = {}  # method → seconds before answering
            self._blocked: set[int] = set()  # users who blocked the bot: writing is 403
            self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
            self.webhook: dict[str, Any] | None = None
            self._webhook_error: tuple[int, str] | None = None
            self._allowed_updates: frozenset[str] = UPDATE_TYPES_BY_DEFAULT
            self._poll_generation += 1  # a pending getUpdates ends (409)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._thread.start()
        self.url = self._thread.serve(app)
        return self

    def stop(self) -> None:
        with self._lock:
            self._closing = True
            self.webhook = None
        self._thread.stop()

    # -- switches -------------------------------------------------------------------------

    def fail_next(
        self, method: str, times: int = 1, *, retry_after: int = 1, status: int = 429
    ) -> None:
        """The next ``times`` calls of ``method`` answer 429 "Too Many Requests" (or, with
        ``status=502``, a "Bad Gateway" as when Telegram's front end is in trouble)."""
        with self._lock:
            self._fail[method.lower()] = [times, retry_after, status]

    def slow_down(self, method: str, seconds: float) -> None:
        """Answer every call of ``method`` ``seconds`` late (0: back to normal)."""
        with self._lock:
            self._delay[method.lower()] = seconds

    def block_bot(self, user_id: int) -> None:
        """The user blocked the bot: sending to (or editing in) their chat answers 403."""
        with self._lock:
            self._blocked.add(user_id)

    # -- the user's side ------------------------------------------------------------------

    def mark(self) -> int:
        """The current position in the call/action sequence (for ``since=``)."""
        with self._lock:
            return self._last_seq

    def _next_seq(self) -> int:
        self._last_seq = next(self._seq)
        return self._last_seq

    def _chat(self, user_id: int, language_code: str | None = None) -> _Chat:
        chat = self._chats.get(user_id)
        if chat is None:
            user = {
                "id": user_id,
                "is_bot": False,
                "first_name": f"Tester{user_id}",
                "username": f"tester{user_id}",
                "language_code": language_code or "ru",
            }
            chat = self._chats[user_id] = _Chat(user)
        if language_code is not None:
            chat.user["language_code"] = language_code
        return chat

    def new_message_update(
        self, user_id: int, text: str, language_code: str | None = "ru"
    ) -> dict[str, Any]:
        """Record a message the user typed and return its update, without queueing it."""
        with self._lock:
            chat = self._chat(user_id, language_code)
            seq = self._next_seq()
            entities: list[dict[str, Any]] = []
            if text.startswith("/"):
                command = text.split()[0]
                entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
            message = ChatMessage(
                message_id=chat.next_id,
                chat_id=user_id,
                from_bot=False,
                text=text,
                entities=entities,
                reply_markup=None,
                date=int(time.time()),
                seq=seq,
            )
            chat.next_id += 1
            chat.messages[message.message_id] = message
            chat.last_action_seq = seq
            return {"update_id": next(self._update_ids), "message": self._message_json(message)}

    def user_sends(
        self, user_id: int, text: str, language_code: str | None = "ru"
    ) -> dict[str, Any]:
        """The user types ``text`` (a /command gets its bot_command entity); queue the update."""
        update = self.new_message_update(user_id, text, language_code)
        self._queue(update)
        return update

    def user_clicks(
        self, user_id: int, message_id: int, button_text: str | re.Pattern[str]
    ) -> str:
        """The user presses the first button whose text matches (regex search on the text
        with plain spaces); queue the callback query and return its id."""
        pattern = re.compile(button_text) if isinstance(button_text, str) else button_text
        with self._lock:
            chat = self._chat(user_id)
            message = chat.messages.get(message_id)
            if message is None:
                raise AssertionError(
                    f"chat {user_id} has no message {message_id}:\n{self.transcript(user_id)}"
                )
            button = next(
                (
                    b
                    for row in message.buttons
                    for b in row
                    if pattern.search(str(b.get("text", "")).translate(SPACES))
                ),
                None,
            )
            if button is None or "callback_data" not in button:
                raise AssertionError(
                    f"no callback button matching {pattern.pattern!r} on message {message_id}: "
                    f"{message.button_texts}"
                )
            query_id, update = self._callback_update(
                user_id, chat, message, data=button["callback_data"]
            )
            self._clicks[query_id] = update
        self._queue(update)
        return query_id

    def _callback_update(
        self, user_id: int, chat: _Chat, message: ChatMessage, **extra: Any
    ) -> tuple[str, dict[str, Any]]:
        """A new callback query from ``user_id`` on ``message`` (under the lock)."""
        query_id = str(next(self._query_ids))
        self._queries[query_id] = user_id
        chat.last_action_seq = self._next_seq()
        return query_id, {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": query_id,
                "from": dict(chat.user),
                "message": self._message_json(message),
                "chat_instance": str(-(10**18) - user_id),
                **extra,
            },
        }

    def user_clicks_again(self, query_id: str) -> str:
        """The same tap once more, on the message as the user's client showed it at the
        first one (a double tap: the bot's edit had not reached the client yet); queue a new
        callback query with the same message and data, return its id."""
        with self._lock:
            first = self._clicks[query_id]
            again = str(next(self._query_ids))
            self._queries[again] = self._queries[query_id]
            self._chat(self._queries[query_id]).last_action_seq = self._next_seq()
            update = {
                "update_id": next(self._update_ids),
                "callback_query": {**first["callback_query"], "id": again},
            }
            self._clicks[again] = update
        self._queue(update)
        return again

    def open_chat(self, chat_id: int) -> None:
        """Make ``chat_id`` a chat the bot may write to (a group the bot was added to)."""
        with self._lock:
            self._chat(chat_id)

    def inject_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` exactly as given (say, a part this aiogram does not know), with the
        next ``update_id`` unless it has one; return it."""
        with self._lock:
            if "update_id" not in update:
                update = {"update_id": next(self._update_ids), **update}
            self._next_seq()
        self._queue(update)
        return update

    def user_clicks_without_data(self, user_id: int, message_id: int) -> str:
        """A callback query on ``message_id`` with neither ``data`` nor ``game_short_name``
        (valid Bot API: some clients send one); queue it and return its id."""
        with self._lock:
            chat = self._chat(user_id)
            query_id, update = self._callback_update(user_id, chat, chat.messages[message_id])
        self._queue(update)
        return query_id

    def _queue(self, update: dict[str, Any]) -> None:
        with self._lock:
            self._updates.append(update)

    # -- what the test reads --------------------------------------------------------------

    def messages(self, chat_id: int) -> list[ChatMessage]:
        """The chat as the user sees it, oldest first."""
        with self._lock:
            chat = self._chats.get(chat_id)
            return sorted(chat.messages.values(), key=lambda m: m.message_id) if chat else []

    def documents(self, chat_id: int) -> list[ChatMessage]:
        """The documents the bot sent to the chat, oldest first (``.document.data``)."""
        return [m for m in self.bot_messages(chat_id) if m.document is not None]

    def bot_messages(self, chat_id: int) -> list[ChatMessage]:
        return [m for m in self.messages(chat_id) if m.from_bot]

    def last_message(self, chat_id: int) -> ChatMessage | None:
        """The newest visible bot message in the chat."""
        found = self.bot_messages(chat_id)
        return found[-1] if found else None

    def calls(
        self, method: str | None = None, *, chat_id: int | None = None, since: int = 0
    ) -> list[ApiCall]:
        with self._lock:
            return [
                c
                for c in self.api_calls
                if c.seq > since
                and (method is None or c.method.lower() == method.lower())
                and (chat_id is None or c.chat_id == chat_id)
            ]

    def errors(self, *, chat_id: int | None = None, since: int = 0) -> list[ApiCall]:
        """Calls Telegram refused, except the errors the test injected."""
        return [
            c
            for c in self.calls(chat_id=chat_id, since=since)
            if c.status not in (0, 200) and not c.injected
        ]

    @property
    def answered_callbacks(self) -> set[str]:
        with self._lock:
            return set(self._answers)

    def callback_answer(self, query_id: str) -> ApiCall | None:
        with self._lock:
            return self._answers.get(query_id)

    def unanswered_callbacks(self, user_id: int | None = None) -> list[str]:
        with self._lock:
            return [
                q
                for q, u in self._queries.items()
                if q not in self._answers and (user_id is None or u == user_id)
            ]

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def transcript(self, chat_id: int | None = None, last_calls: int = 25) -> str:
        """A readable dump: the chat(s) as seen, then the latest API calls."""
        with self._lock:
            chats = [chat_id] if chat_id is not None else sorted(self._chats)
            lines: list[str] = []
            for cid in chats:
                lines.append(f"--- chat {cid}")
                lines.extend(str(m) for m in self.messages(cid))
            calls = [c for c in self.api_calls if chat_id is None or c.chat_id in (None, chat_id)]
            lines.append(f"--- last {last_calls} API calls")
            lines.extend(str(c) for c in calls[-last_calls:])
            return "\n".join(lines)

    # -- waiting ----------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 10.0,
        what: str = "",
        chat_id: int | None = None,
    ) -> T:
        """Poll ``predicate`` until it returns something truthy; return that value."""
        deadline = time.monotonic() + timeout
        while True:
            if value := self._poll(predicate, deadline, timeout, what, chat_id):
                return value
            await asyncio.sleep(POLL_SECONDS)

    def wait_for_sync(
        self, predicate: Callable[[], T], timeout: float = 10.0, what: str = ""
    ) -> T:
        deadline = time.monotonic() + timeout
        while not (value := self._poll(predicate, deadline, timeout, what, None)):
            time.sleep(POLL_SECONDS)
        return value

    def _poll(
        self,
        predicate: Callable[[], T],
        deadline: float,
        timeout: float,
        what: str,
        chat_id: int | None,
    ) -> T:
        """One look for the wait helpers: the value (falsy: not yet), or the timeout."""
        value = predicate()
        if not value and time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or predicate}\n"
                f"{self.transcript(chat_id)}"
            )
        return value

    async def wait_for_screen(
        self,
        chat_id: int,
        text: str | re.Pattern[str],
        *,
        since: int | None = None,
        timeout: float = 10.0,
    ) -> ChatMessage:
        """Wait for a bot message in the chat, sent or edited after ``since`` (default: the
        user's last action), whose text (with plain spaces) contains ``text`` or matches
        the pattern; return the newest such message."""
        if since is None:
            with self._lock:
                since = self._chat(chat_id).last_action_seq

        def found() -> ChatMessage | None:
            for message in reversed(self.bot_messages(chat_id)):
                if message.seq > since and (
                    text.search(message.norm)
                    if isinstance(text, re.Pattern)
                    else text in message.norm
                ):
                    return message
            return None

        return await self.wait_for(
            found, timeout, f"a bot message with {text!r} in chat {chat_id}", chat_id
        )

    async def wait_for_call(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        since: int = 0,
        where: Callable[[ApiCall], bool] | None = None,
        timeout: float = 10.0,
        ok: bool | None = True,
    ) -> ApiCall:
        """Wait for an answered call of ``method`` (successful unless ``ok`` says otherwise)."""

        def found() -> ApiCall | None:
            for call in self.calls(method, chat_id=chat_id, since=since):
                if not call.status or (ok is not None and call.ok != ok):
                    continue
                if where is None or where(call):
                    return call
            return None

        return await self.wait_for(found, timeout, f"a {method} call", chat_id)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response(ApiError(404, "Not Found").body(), status=404)

    async def _handle(self, request: web.Request) -> web.Response:
        raw_method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        try:
            params = await read_params(request)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.code)
        status, body = await self.dispatch(raw_method, params)
        return web.json_response(body, status=status)

    async def dispatch(
        self, raw_method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Run one method as Telegram would and log the call."""
        key = raw_method.lower()
        with self._lock:
            call = ApiCall(
                self._next_seq(), time.monotonic(), self._canonical.get(key, raw_method), params
            )
            self.api_calls.append(call)
            failing = self._fail.get(key)
            injected = bool(failing and failing[0] > 0)
            if failing and injected:
                failing[0] -= 1
            delay = self._delay.get(key, 0.0)
        if delay:
            await asyncio.sleep(delay)
        try:
            handler = self._methods.get(key)
            if handler is None:
                raise ApiError(404, "Not Found")
            if injected:
                assert failing is not None
                if failing[2] != 429:
                    raise ApiError(failing[2], "Bad Gateway")
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {failing[1]}",
                    {"retry_after": failing[1]},
                )
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.code, exc.body()
        with self._lock:
            call.status, call.response, call.injected = status, body, injected
            call.finished_at = time.monotonic()
        return status, body

    # -- methods ------------------------------------------------------------------------------

    def _true(self, params: dict[str, Any]) -> bool:
        return True

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.bot_user)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int_param(params, "offset", 0)
        limit = min(max(int_param(params, "limit", 100), 1), 100)
        timeout = max(int_param(params, "timeout", 0), 0)
        allowed = json_param(params, "allowed_updates", "can't parse allowed updates JSON")
        with self._lock:
            if self.webhook is not None:
                raise ApiError(409, CONFLICT_WEBHOOK)
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) or UPDATE_TYPES_BY_DEFAULT
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            self._poll_generation += 1
            generation = self._poll_generation
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(409, CONFLICT_POLL)
                # Updates of types the bot did not ask for are dropped, as Telegram does.
                self._updates = [
                    u for u in self._updates if update_type(u) in self._allowed_updates
                ]
                if self._updates or self._closing or time.monotonic() >= deadline:
                    return self._updates[:limit]
            await asyncio.sleep(0.02)

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._known_chat(params)
        text, entities = parse_text(params)
        markup = reply_markup(params)
        with self._lock:
            message = ChatMessage(
                message_id=chat.next_id,
                chat_id=chat.user["id"],
                from_bot=True,
                text=text,
                entities=entities,
                reply_markup=markup,
                date=int(time.time()),
                seq=self._last_seq,
                html=str(params.get("text")),
            )
            chat.next_id += 1
            chat.messages[message.message_id] = message
            return self._message_json(message)

    def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._known_chat(params)
        upload = params.get("document")
        if isinstance(upload, str) and upload.startswith("attach://"):
            upload = params.get(upload.removeprefix("attach://"))
        if not isinstance(upload, UploadedFile):
            raise bad_request("there is no document in the request")
        if not upload.data:
            raise bad_request("file must be non-empty")
        if len(upload.data) > MAX_DOCUMENT_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        text, entities = "", []
        if params.get("caption"):
            text, entities = parse_text(
                {"text": params["caption"], "parse_mode": params.get("parse_mode")}
            )
            if len(text) > MAX_CAPTION:
                raise bad_request("message caption is too long")
        markup = reply_markup(params)
        with self._lock:
            message = ChatMessage(
                message_id=chat.next_id,
                chat_id=chat.user["id"],
                from_bot=True,
                text=text,
                entities=entities,
                reply_markup=markup,
                date=int(time.time()),
                seq=self._last_seq,
                html=str(params.get("caption") or ""),
                document=upload,
            )
            chat.next_id += 1
            chat.messages[message.message_id] = message
            return self._message_json(message)

    def _edit_target(self, params: dict[str, Any], action: str) -> ChatMessage:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._known_chat(params)
        message = chat.messages.get(int_param(params, "message_id", 0))
        if message is None:
            raise bad_request(f"message to {action} not found")
        return message

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        text, entities = parse_text(params)
        markup = reply_markup(params, inline_only=True)
        with self._lock:
            message = self._edit_target(params, "edit")
            if not message.from_bot:
                raise bad_request("message can't be edited")
            if (message.text, message.entities, message.reply_markup) == (text, entities, markup):
                raise ApiError(400, NOT_MODIFIED)
            message.text, message.entities, message.reply_markup = text, entities, markup
            message.html = str(params.get("text"))
            return self._edited(message)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        markup = reply_markup(params, inline_only=True)
        with self._lock:
            message = self._edit_target(params, "edit")
            if not message.from_bot:
                raise bad_request("message can't be edited")
            if message.reply_markup == markup:
                raise ApiError(400, NOT_MODIFIED)
            message.reply_markup = markup
            return self._edited(message)

    def _edited(self, message: ChatMessage) -> dict[str, Any]:
        message.edits += 1
        message.seq = self._last_seq
        body = self._message_json(message)
        body["edit_date"] = int(time.time())
        return body

    def _delete_message(self, params: dict[str, Any]) -> bool:
        with self._lock:
            chat = self._known_chat(params)
            message_id = int_param(params, "message_id", 0)
            if chat.messages.pop(message_id, None) is None:
                raise bad_request("message to delete not found")
            return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        with self._lock:
            if query_id not in self._queries or query_id in self._answers:
                raise ApiError(400, QUERY_INVALID)
            text = params.get("text")
            if text is not None and len(str(text)) > 200:
                raise bad_request("MESSAGE_TOO_LONG")
            for call in reversed(self.api_calls):
                if call.params is params:
                    self._answers[query_id] = call
                    break
            return True

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = json_param(params, "scope", "can't parse BotCommandScope JSON object") or {
            "type": "default"
        }
        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = json_param(params, "commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        for item in commands:
            if not isinstance(item, dict) or not _COMMAND.fullmatch(str(item.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(item.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        with self._lock:
            self.commands[key] = commands
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.commands.pop(self._commands_key(params), None)
        return True

    def commands_for(
        self, language_code: str = "", scope: str = "default"
    ) -> list[dict[str, Any]] | None:
        """The commands set for a language (``""``: for everyone) in a scope type."""
        with self._lock:
            return self.commands.get((json.dumps({"type": scope}, sort_keys=True), language_code))

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        if url and not (url.startswith("https://") or url.startswith("http://127.0.0.1")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        allowed = json_param(params, "allowed_updates", "can't parse allowed updates JSON")
        with self._lock:
            if truthy(params.get("drop_pending_updates")):
                self._updates.clear()
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) or UPDATE_TYPES_BY_DEFAULT
            if not url:
                self.webhook = None
                return True
            self._poll_generation += 1  # a pending getUpdates ends
            self.webhook = {"url": url, "secret_token": secret}
        if self._deliverer is None or self._deliverer.done():
            self._deliverer = asyncio.get_running_loop().create_task(self._deliver())
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.webhook = None
            if truthy(params.get("drop_pending_updates")):
                self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            info: dict[str, Any] = {
                "url": (self.webhook or {}).get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self.webhook and self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
            return info

    async def _deliver(self) -> None:
        """Push queued updates to the webhook, one at a time, as Telegram does."""
        async with aiohttp.ClientSession() as session:
            while True:
                with self._lock:
                    hook = self.webhook
                    if hook is None or self._closing:
                        return
                    self._updates = [
                        u for u in self._updates if update_type(u) in self._allowed_updates
                    ]
                    update = self._updates[0] if self._updates else None
                if update is None:
                    await asyncio.sleep(0.02)
                    continue
                status, reply = await _post(session, hook["url"], update, hook.get("secret_token"))
                if 200 <= status < 300:
                    with self._lock:
                        if self._updates and self._updates[0] is update:
                            self._updates.pop(0)
                    if isinstance(reply, dict) and isinstance(reply.get("method"), str):
                        params = {k: v for k, v in reply.items() if k != "method"}
                        await self.dispatch(reply["method"], params)
                    continue
                with self._lock:
                    self._webhook_error = (
                        int(time.time()),
                        f"Wrong response from the webhook: {status}",
                    )
                await asyncio.sleep(0.5)

    # -- inline mode (issue 11 §5) -------------------------------------------------------------
    # A user types "@bot text" in any chat; the bot answers the query once; the user picks a
    # result and its message goes into that chat (the bot is not in it, and is not told).

    def set_inline_mode(self, on: bool = True, *, feedback: bool = False) -> None:
        """@BotFather's /setinline: without it no client sends the bot inline queries;
        ``feedback``: /setinlinefeedback (100 %), a pick is reported (chosen_inline_result)."""
        with self._lock:
            self.bot_user["supports_inline_queries"] = on
            self._inline_feedback = on and feedback

    def user_inline_query(
        self,
        user_id: int,
        query: str,
        language_code: str | None = "ru",
        chat_type: str = "private",
    ) -> str:
        """The user types ``@bot query`` in a chat of ``chat_type``; queue the inline_query
        update and return its id. A user who never wrote to the bot gets no chat with it."""
        with self._lock:
            if not self.bot_user["supports_inline_queries"]:
                raise AssertionError("inline mode is off: call set_inline_mode() (/setinline)")
            known = self._chats.get(user_id)
            user = dict(known.user) if known else dict(self._chat_user(user_id))
            if language_code is not None:
                user["language_code"] = language_code
            query_id = str(next(self._query_ids))
            self._inline_queries[query_id] = user_id
            self._next_seq()
            update = {
                "update_id": next(self._update_ids),
                "inline_query": {
                    "id": query_id,
                    "from": user,
                    "query": query,
                    "offset": "",
                    "chat_type": chat_type,
                },
            }
        self._queue(update)
        return query_id

    def _chat_user(self, user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"Tester{user_id}",
            "username": f"tester{user_id}",
            "language_code": "ru",
        }

    def inline_answer(self, query_id: str) -> InlineAnswer | None:
        with self._lock:
            return self._inline_answers.get(query_id)

    async def wait_for_inline_answer(self, query_id: str, timeout: float = 10.0) -> InlineAnswer:
        """The bot's accepted answer to ``query_id`` (a refused one fails with the error)."""

        def answered() -> InlineAnswer | None:
            refused = [
                c
                for c in self.calls("answerInlineQuery")
                if c.params.get("inline_query_id") == query_id and c.status not in (0, 200)
            ]
            if refused:
                raise AssertionError(f"answerInlineQuery refused: {refused[-1]}")
            return self.inline_answer(query_id)

        return await self.wait_for(answered, timeout, f"an answer to inline query {query_id}")

    def user_picks_inline_result(self, query_id: str, result_id: str, chat_id: int) -> ChatMessage:
        """The user taps a result: its message appears in ``chat_id`` (a chat with a client,
        which the bot is not in), from the user; return it."""
        with self._lock:
            answer = self._inline_answers[query_id]
            result: InlineResult = next(r for r in answer.results if r.id == result_id)
            chat = self._chat(chat_id)
            message = ChatMessage(
                message_id=chat.next_id,
                chat_id=chat_id,
                from_bot=False,
                text=result.text,
                entities=result.entities,
                reply_markup=None,
                date=int(time.time()),
                seq=self._next_seq(),
                html=result.html,
            )
            chat.next_id += 1
            chat.messages[message.message_id] = message
            feedback = getattr(self, "_inline_feedback", False)
            if feedback:  # no inline_message_id: the message has no inline keyboard
                user = dict(self._chat_user(self._inline_queries[query_id]))
                update = {
                    "update_id": next(self._update_ids),
                    "chosen_inline_result": {
                        "result_id": result_id,
                        "from": user,
                        "query": "",  # the fake keeps no query text
                    },
                }
        if feedback:
            self._queue(update)
        return message

    def _answer_inline_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("inline_query_id") or "")
        with self._lock:
            if query_id not in self._inline_queries or query_id in self._inline_answers:
                raise ApiError(400, QUERY_INVALID)
        answer = read_inline_answer(params)
        with self._lock:
            self._inline_answers[query_id] = answer
        return True

    # -- helpers ------------------------------------------------------------------------------

    def _known_chat(self, params: dict[str, Any]) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                raise bad_request("chat not found")
            if chat_id in self._blocked:
                raise ApiError(403, BLOCKED_BY_USER)
            return chat

    def _message_json(self, message: ChatMessage) -> dict[str, Any]:
        chat = self._chats[message.chat_id]
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "from": dict(self.bot_user) if message.from_bot else dict(chat.user),
            "chat": {
                "id": message.chat_id,
                "first_name": chat.user["first_name"],
                "username": chat.user["username"],
                "type": "private",
            },
            "date": message.date,
            "text": message.text,
        }
        if message.document is not None:
            del body["text"]
            body["document"] = {
                "file_id": f"doc{message.chat_id}_{message.message_id}",
                "file_unique_id": f"u{message.chat_id}_{message.message_id}",
                "file_name": message.document.filename,
                "mime_type": message.document.content_type or "application/octet-stream",
                "file_size": len(message.document.data),
            }
            if message.text:
                body["caption"] = message.text
            if message.entities:
                body["caption_entities"] = [dict(e) for e in message.entities]
        elif message.entities:
            body["entities"] = [dict(e) for e in message.entities]
        if message.reply_markup:
            body["reply_markup"] = message.reply_markup
        return body


async def _post(
    session: aiohttp.ClientSession, url: str, update: dict[str, Any], secret: str | None
) -> tuple[int, Any]:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    try:
        async with session.post(
            url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            reply: Any = None
            if resp.content_type == "application/json":
                with contextlib.suppress(ValueError):
                    reply = await resp.json()
            return resp.status, reply
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 599, str(exc)


async def post_update(
    url: str, update: dict[str, Any], secret_token: str | None = None
) -> tuple[int, Any]:
    """POST one update to a webhook URL as Telegram would; return (status, JSON reply or None)."""
    async with aiohttp.ClientSession() as session:
        return await _post(session, url, update, secret_token)
