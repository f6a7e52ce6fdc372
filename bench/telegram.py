"""The e2e fake Bot API, adapted for load: :class:`BenchTelegram`.

It is :class:`FakeTelegram` — the same validation (HTML entities, text length, callback
data, "message is not modified"…), the same chat model, the same ``user_sends`` and
``user_clicks`` — with what a load test needs on top:

* ``getUpdates`` is answered here and is event-driven: a waiting long poll returns as soon
  as an update is queued, with up to ``limit`` (≤ 100) updates, as Telegram does. The e2e
  fake looks at its queue every 20 ms, which would add up to 20 ms to every figure;
* each successful ``sendMessage`` / ``editMessageText`` is handed to whoever waits for that
  chat (:meth:`BenchTelegram.expect`) with the time its request arrived;
* history is bounded (the call log, old messages of each chat, answered callback queries),
  so a long soak neither grows the bench process nor slows the fake down;
* it is served on the caller's event loop (no thread of its own), so the simulated admins,
  the server and every timestamp share one loop and one clock.

It relies on these parts of :class:`FakeTelegram`: ``dispatch``, ``new_message_update``,
``user_sends``, ``user_clicks`` and the hook ``_queue`` through which both of those queue
an update. Trimming history also reads ``api_calls``, ``_chats``, ``_queries`` and
``_answers`` (and ``_clicks``) when they exist, and is skipped when they do not.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bench.e2e import FakeTelegram

REPLY_METHODS = frozenset({"sendmessage", "editmessagetext"})
MAX_BATCH = 100  # Telegram's getUpdates limit

if not callable(getattr(FakeTelegram, "_queue", None)):  # pragma: no cover - a loud failure
    raise ImportError(
        "tests/e2e/fake_telegram.py: FakeTelegram._queue(update) is gone; bench/telegram.py "
        "intercepts queued updates through it and needs updating"
    )


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the bot sent or edited: when its request arrived, and what it showed."""

    arrived: float  # time.monotonic()
    method: str
    message_id: int
    text: str  # as sent (HTML)


@dataclass
class PollStats:
    polls: int = 0
    delivered: int = 0
    largest_batch: int = 0


class BenchTelegram(FakeTelegram):
    """The fake Bot API for the bench. ``await serve()``, point the bot at :attr:`url`.

    Args:
        history: API calls kept for inspection (older ones are dropped).
        keep_messages: messages kept per chat (the bot only edits its latest ones).
    """

    def __init__(self, *, history: int = 2_000, keep_messages: int = 8) -> None:
        super().__init__()
        self._history = history
        self._keep_messages = keep_messages
        self._pending: deque[dict[str, Any]] = deque()
        self._encoded: dict[int, bytes] = {}  # update_id → the update's JSON
        self._arrived = asyncio.Event()
        self._waiters: dict[int, list[tuple[tuple[str, ...], asyncio.Future[Reply]]]] = {}
        self._runner: web.AppRunner | None = None
        self._closing_polls = False
        self._since_compact = 0
        self.first_poll = asyncio.Event()
        self.poll_stats = PollStats()
        self.refused: Counter[str] = Counter()
        self.replies = 0

    # -- serving ----------------------------------------------------------------------------

    async def serve(self) -> str:
        """Serve on a free 127.0.0.1 port of the running loop; return and keep the URL."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._serve_method)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[-1][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        self._closing_polls = True
        self._arrived.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for waiters in self._waiters.values():
            for _, future in waiters:
                future.cancel()
        self._waiters.clear()

    async def _serve_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            body = {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return web.json_response(body, status=401)
        method = request.match_info["method"]
        params = await _read_params(request)
        if method.lower() == "getupdates":
            # Each update is encoded once, when it is queued (Telegram keeps its updates
            # serialised too): a 100-update answer is then a join, not 100 json.dumps, so
            # the fake's own cost does not pass for the bot's in the figures.
            batch = await self._poll(params)
            encoded = b",".join(self._encoded[u["update_id"]] for u in batch)
            return web.Response(
                body=b'{"ok":true,"result":[' + encoded + b"]}", content_type="application/json"
            )
        status, body = await self.dispatch(method, params)
        return web.json_response(body, status=status)

    # -- updates ----------------------------------------------------------------------------

    def _queue(self, update: dict[str, Any]) -> None:
        """Every update the user side makes lands here (``user_sends``, ``user_clicks``)."""
        self._encoded[update["update_id"]] = json.dumps(update, separators=(",", ":")).encode()
        self._pending.append(update)
        self._arrived.set()

    def pending_updates(self) -> int:
        return len(self._pending)

    async def _poll(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _int(params.get("offset"), 0)
        limit = min(max(_int(params.get("limit"), MAX_BATCH), 1), MAX_BATCH)
        timeout = max(_int(params.get("timeout"), 0), 0)
        while offset > 0 and self._pending and self._pending[0]["update_id"] < offset:
            confirmed = self._pending.popleft()  # confirmed by this offset
            self._encoded.pop(confirmed["update_id"], None)
        self.poll_stats.polls += 1
        self.first_poll.set()
        deadline = time.monotonic() + timeout
        while not self._pending and not self._closing_polls:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
        batch = list(itertools.islice(self._pending, limit))
        stats = self.poll_stats
        stats.delivered += len(batch)
        stats.largest_batch = max(stats.largest_batch, len(batch))
        return batch

    # -- replies ----------------------------------------------------------------------------

    def expect(self, chat_id: int, markers: Iterable[str]) -> asyncio.Future[Reply]:
        """A future for the bot's next message/edit in ``chat_id`` containing any marker."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(chat_id, []).append((tuple(markers), future))
        return future

    def forget(self, chat_id: int, future: asyncio.Future[Reply]) -> None:
        """Stop waiting with ``future`` (after a timeout)."""
        waiters = self._waiters.get(chat_id, [])
        self._waiters[chat_id] = [(m, f) for m, f in waiters if f is not future]

    async def dispatch(
        self, raw_method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        arrived = time.monotonic()
        status, body = await super().dispatch(raw_method, params)
        if status != 200:
            self.refused[f"{raw_method}: {body.get('description', status)}"] += 1
        elif raw_method.lower() in REPLY_METHODS:
            self.replies += 1
            result = body.get("result")
            if isinstance(result, dict):
                self._notify(params, result, raw_method, arrived)
        self._since_compact += 1
        if self._since_compact >= self._history:
            self._since_compact = 0
            self._compact()
        return status, body

    def _notify(
        self, params: dict[str, Any], result: dict[str, Any], method: str, arrived: float
    ) -> None:
        chat_id = _int(params.get("chat_id"), 0)
        waiters = self._waiters.get(chat_id)
        if not waiters:
            return
        text = str(params.get("text", ""))
        reply = Reply(arrived, method, int(result.get("message_id", 0)), text)
        left = []
        for markers, future in waiters:
            if future.done():
                continue
            if any(marker in text for marker in markers):
                future.set_result(reply)
            else:
                left.append((markers, future))
        self._waiters[chat_id] = left

    def _compact(self) -> None:
        """Drop old history: calls, messages beyond the latest few, answered queries."""
        with self._lock:
            calls = getattr(self, "api_calls", None)
            if isinstance(calls, list) and len(calls) > self._history:
                del calls[: len(calls) - self._history]
            chats = getattr(self, "_chats", None)
            for chat in (chats or {}).values():
                messages = getattr(chat, "messages", None)
                if isinstance(messages, dict) and len(messages) > self._keep_messages:
                    for message_id in sorted(messages)[: -self._keep_messages]:
                        del messages[message_id]
            answers = getattr(self, "_answers", None)
            queries = getattr(self, "_queries", None)
            clicks = getattr(self, "_clicks", None)
            if isinstance(answers, dict) and isinstance(queries, dict):
                for query_id in list(answers):
                    del answers[query_id]
                    queries.pop(query_id, None)
                    if isinstance(clicks, dict):
                        clicks.pop(query_id, None)


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Form fields, a JSON body or the query string, as the Bot API reads them."""
    params: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return params
        if isinstance(body, dict):
            params.update(body)
        return params
    form = await request.post()
    for key, value in form.items():
        params[key] = value if isinstance(value, str) else getattr(value, "filename", "")
    return params


def _int(raw: Any, default: int) -> int:
    try:
        return int(raw) if raw not in (None, "") else default
    except (TypeError, ValueError):
        return default
