"""The e2e fake Bot API on the bench's own event loop: :class:`BenchTelegram`.

It is ``tests.e2e.fake_telegram.FakeTelegram`` (the same validation, chat model, ``user_sends``
and ``user_clicks``; it overrides ``_queue``, through which those queue an update, and
``dispatch``) with what a load test needs on top:

* ``getUpdates`` is event-driven: a long poll returns as soon as an update is queued, with up
  to 100 (the e2e fake looks every 20 ms, which would add up to 20 ms to every figure); each
  update is encoded once, when queued, so the fake's own cost does not pass for the bot's;
* each ``sendMessage`` / ``editMessageText`` is handed to whoever waits for that chat
  (:meth:`BenchTelegram.expect`) with the time its request arrived;
* :attr:`BenchTelegram.first_poll_at`: when the first ``getUpdates`` arrived;
* it is served on the caller's loop, so admins, server and timestamps share one clock.
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

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.telegram_wire import int_param, read_params

REPLY_METHODS = frozenset({"sendmessage", "editmessagetext"})


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the bot sent or edited: when its request arrived, and its text (HTML)."""

    arrived: float  # time.monotonic()
    message_id: int
    text: str


class BenchTelegram(FakeTelegram):
    """The fake Bot API for the bench. ``await serve()``, point the bot at :attr:`url`."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: deque[dict[str, Any]] = deque()
        self._encoded: dict[int, bytes] = {}  # update_id → the update's JSON
        self._arrived = asyncio.Event()
        self._waiters: dict[int, list[tuple[tuple[str, ...], asyncio.Future[Reply]]]] = {}
        self._runner: web.AppRunner | None = None
        self.first_poll_at: float | None = None
        self.refused: Counter[str] = Counter()
        self.popups: Counter[str] = Counter()  # answerCallbackQuery texts

    async def serve(self) -> BenchTelegram:
        """Serve on a free 127.0.0.1 port of the running loop; :attr:`url` is set."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._serve_method)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[-1][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        self._closing = True
        self._arrived.set()
        if self._runner is not None:
            await self._runner.cleanup()
        for waiters in self._waiters.values():
            for _, future in waiters:
                future.cancel()

    async def _serve_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method.lower() == "getupdates" and self.first_poll_at is None:
            self.first_poll_at = time.monotonic()
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401}, status=401)
        params = await read_params(request)
        if method.lower() != "getupdates":
            status, body = await self.dispatch(method, params)
            return web.json_response(body, status=status)
        batch = await self._poll(params)
        encoded = b",".join(self._encoded[u["update_id"]] for u in batch)
        return web.Response(
            body=b'{"ok":true,"result":[' + encoded + b"]}", content_type="application/json"
        )

    def _queue(self, update: dict[str, Any]) -> None:
        self._encoded[update["update_id"]] = json.dumps(update, separators=(",", ":")).encode()
        self._pending.append(update)
        self._arrived.set()

    def pending_updates(self) -> int:
        return len(self._pending)

    async def _poll(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int_param(params, "offset", 0)
        limit = min(max(int_param(params, "limit", 100), 1), 100)
        while offset > 0 and self._pending and self._pending[0]["update_id"] < offset:
            self._encoded.pop(self._pending.popleft()["update_id"], None)  # confirmed
        deadline = time.monotonic() + max(int_param(params, "timeout", 0), 0)
        while not self._pending and not self._closing:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return list(itertools.islice(self._pending, limit))

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
        result = body.get("result")
        if status != 200:
            self.refused[f"{raw_method}: {body.get('description', status)}"] += 1
        elif raw_method.lower() == "answercallbackquery" and params.get("text"):
            self.popups[str(params["text"])] += 1
        elif raw_method.lower() in REPLY_METHODS and isinstance(result, dict):
            chat_id, text = int_param(params, "chat_id", 0), str(params.get("text", ""))
            reply = Reply(arrived, int(result.get("message_id", 0)), text)
            waiting = []
            for markers, future in self._waiters.pop(chat_id, []):
                if future.done():
                    continue
                if any(marker in text for marker in markers):
                    future.set_result(reply)
                else:
                    waiting.append((markers, future))
            if waiting:
                self._waiters[chat_id] = waiting
        return status, body
