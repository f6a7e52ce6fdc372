"""aiohttp applications served on 127.0.0.1 from a background thread with its own event loop.

The fakes run in their own thread so that they keep answering the bot subprocess between
tests and while a test's event loop is busy, independent of pytest-asyncio's loop scopes.
State they share with the test thread is guarded by a lock in each fake.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class LoopbackThread:
    """One event loop in a daemon thread, hosting any number of aiohttp apps."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._runners: list[web.AppRunner] = []
        self._started = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(5)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run ``coro`` on the server loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def serve(self, app: web.Application) -> str:
        """Serve ``app`` on a free loopback port; return ``http://127.0.0.1:PORT``."""
        return self.call(self._serve(app))

    async def _serve(self, app: web.Application) -> str:
        # handler_cancellation: a client that goes away (a killed bot) cancels its long poll.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        host, port = runner.addresses[-1][:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self.call(self._shutdown(), timeout=15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    async def _shutdown(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
