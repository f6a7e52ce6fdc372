"""The bots under load, each polling a :class:`BenchTelegram` of its own.

:class:`BenchTelegram` is ``tests.e2e.fake_telegram.FakeTelegram`` (the same validation, chat
model, ``user_sends`` and ``user_clicks``; it overrides ``_queue``, through which those queue
an update, and ``dispatch``) with what a load test needs on top:

* ``getUpdates`` is event-driven: a long poll returns as soon as an update is queued, with up
  to 100 (the e2e fake looks every 20 ms, which would add up to 20 ms to every figure); each
  update is encoded once, when queued, so the fake's own cost does not pass for the bot's;
* each ``sendMessage`` / ``editMessageText`` is handed to whoever waits for that chat
  (:meth:`BenchTelegram.expect`) with the time its request arrived;
* :attr:`BenchTelegram.first_poll_at`: when the first ``getUpdates`` arrived;
* it is served on the caller's loop, so admins, server and timestamps share one clock.

Processes are started, watched and stopped by ``tests.e2e.harness``, the e2e tests' helper:
:func:`start_crypto_helper` runs ``crypto-helper run`` on a copy of the shipped definitions
whose providers are the fakes, :func:`start_reference` ``bench/reference_bot.py``.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import itertools
import json
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import web

from tests.e2e.fake_providers import API_KEY, FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ROOT, BotProcess, child_env, free_port, write_project
from tests.e2e.telegram_wire import int_param, read_params


class Reply(NamedTuple):
    """A message the bot sent or edited: when its request arrived, and its text (HTML)."""

    arrived: float  # time.monotonic()
    message_id: int
    text: str


class BenchTelegram(FakeTelegram):
    """The fake Bot API for the bench. ``await serve()``, point the bot at :attr:`url`."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: deque[tuple[int, bytes]] = deque()  # update_id, the update's JSON
        self._arrived = asyncio.Event()
        self._waiters: dict[int, list[tuple[tuple[str, ...], asyncio.Future[Reply]]]] = {}
        self._runner: web.AppRunner | None = None
        self.first_poll_at: float | None = None

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
        for _, future in itertools.chain(*self._waiters.values()):
            future.cancel()

    async def _serve_method(self, request: web.Request) -> web.Response:
        """``getUpdates`` served here, every other call by the e2e fake (validated, logged)."""
        info = request.match_info
        if info["method"].lower() != "getupdates" or info["token"] != self.token:
            return await self._handle(request)
        if self.first_poll_at is None:
            self.first_poll_at = time.monotonic()
        batch = b",".join(await self._poll(await read_params(request)))
        return web.Response(
            body=b'{"ok":true,"result":[' + batch + b"]}", content_type="application/json"
        )

    def _queue(self, update: dict[str, Any]) -> None:
        encoded = json.dumps(update, separators=(",", ":")).encode()
        self._pending.append((update["update_id"], encoded))
        self._arrived.set()

    def pending_updates(self) -> int:
        return len(self._pending)

    async def _poll(self, params: dict[str, Any]) -> list[bytes]:
        """Up to ``limit`` updates after confirming those below ``offset``; a long poll waits
        until one is queued (``_arrived`` is set only then, or at close)."""
        offset = int_param(params, "offset", 0)
        while offset > 0 and self._pending and self._pending[0][0] < offset:
            self._pending.popleft()  # confirmed
        if not self._pending and not self._closing:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                timeout = max(int_param(params, "timeout", 0), 0)
                await asyncio.wait_for(self._arrived.wait(), timeout)
        limit = min(max(int_param(params, "limit", 100), 1), 100)
        return [encoded for _, encoded in itertools.islice(self._pending, limit)]

    def expect(self, chat_id: int, markers: Iterable[str]) -> asyncio.Future[Reply]:
        """A future for the bot's next message/edit in ``chat_id`` containing any marker
        (cancel it to stop waiting)."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(chat_id, []).append((tuple(markers), future))
        return future

    def refused(self) -> Counter[str]:
        """The calls the fake refused, by method and Telegram's description."""
        return Counter(f"{call.method}: {call.description}" for call in self.errors())

    async def dispatch(
        self, raw_method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        arrived = time.monotonic()
        status, body = await super().dispatch(raw_method, params)
        result = body.get("result")
        reply_method = raw_method.lower() in ("sendmessage", "editmessagetext")
        if status == 200 and reply_method and isinstance(result, dict):
            chat_id, text = int_param(params, "chat_id", 0), str(params.get("text", ""))
            reply = Reply(arrived, int(result.get("message_id", 0)), text)
            waiters = self._waiters.pop(chat_id, [])
            for markers, future in waiters:
                if not future.done() and any(marker in text for marker in markers):
                    future.set_result(reply)
            if waiting := [(m, f) for m, f in waiters if not f.done()]:
                self._waiters[chat_id] = waiting
        return status, body


@dataclass
class RunningBot:
    """A bot process and the fake it polls."""

    name: str
    tg: BenchTelegram
    process: BotProcess
    startup: float = 0.0  # s from just before the spawn to its first getUpdates at the fake

    def meter(self) -> dict[str, float]:
        """The counters a phase is measured by: bot and bench CPU, time, the bot's RSS."""
        return {
            "bot_cpu": self.process.cpu_seconds(),
            "bench_cpu": time.process_time(),
            "seconds": time.monotonic(),
            "rss": self.process.rss_mb(),
        }

    async def stop(self) -> None:
        """SIGTERM (SIGKILL after 15 s; the exit code stays on :attr:`process`), then the fake."""
        try:
            await asyncio.to_thread(self.process.stop, 15.0)
        finally:
            await self.tg.close()


async def start_bot(name: str, config: Path, env: dict[str, str], *command: str) -> RunningBot:
    """``command`` (``crypto-helper run --config CONFIG``) in ``config``'s folder with ``env``,
    its log next to ``config``, up to its first ``getUpdates`` at a fake of its own."""
    fake = await BenchTelegram().serve()
    env = child_env(BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url, **env)
    log = config.with_name(f"{name}.log")
    process = BotProcess(name, config, log, env, command=command or None)
    bot = RunningBot(name, fake, process)
    try:
        await process.started(lambda: fake.first_poll_at is not None, 60.0)
    except BaseException:
        await bot.stop()
        raise
    assert fake.first_poll_at is not None and process.spawned_at is not None
    bot.startup = fake.first_poll_at - process.spawned_at
    return bot


async def start_reference(work: Path, env: dict[str, str]) -> RunningBot:
    script = str(ROOT / "bench" / "reference_bot.py")
    return await start_bot("reference", work / "reference", env, sys.executable, script)


async def start_crypto_helper(
    work: Path, providers: FakeProviders, ttl: float, env: dict[str, str]
) -> RunningBot:
    """``crypto-helper run`` on the shipped definitions with the fake providers and ``ttl``
    as cache TTL and preload interval, started as a deployed bot restarts: its journal exists
    (``crypto-helper db upgrade`` first, as the README says to do ahead of a deploy) and its
    code is compiled to bytecode (as ``pip install`` does; where ``PYTHONDONTWRITEBYTECODE``
    is set, as on the machine these figures come from, a source checkout would otherwise
    compile its 126 modules at every start: 0.1 s)."""
    for package in ("engine", "providers"):
        compileall.compile_dir(ROOT / package, quiet=1)
    edits = {f"{key}: 60": f"{key}: {ttl:g}" for key in ("ttl_seconds", "interval_seconds")}
    config = write_project(work / "project", providers, edits)
    script = Path(sys.executable).with_name("crypto-helper")
    upgrade = await asyncio.create_subprocess_exec(
        script, "db", "upgrade", cwd=config.parent, env=child_env(), stdout=subprocess.DEVNULL
    )
    if await upgrade.wait():
        raise RuntimeError("crypto-helper db upgrade failed")
    env = {**env, "API_LAYER_KEY": API_KEY, "PORT": str(free_port())}
    return await start_bot("crypto-helper", config, env)
