"""Single-flight: concurrent requests for the same key share one running call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """At most one task per key; everyone asking meanwhile awaits that task.

    A waiter that is cancelled does not cancel the shared call (others may still need it).
    """

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[V]] = {}

    def in_flight(self, key: K) -> bool:
        return key in self._tasks

    def start(self, key: K, factory: Callable[[], Coroutine[Any, Any, V]]) -> asyncio.Task[V]:
        """The running task for ``key``, or a new one made from ``factory()``."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.create_task(factory(), name=f"single-flight {key}")
            self._tasks[key] = task
            task.add_done_callback(partial(self._forget, key))
        return task

    async def run(self, key: K, factory: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """Await the shared call for ``key``, starting it if none runs."""
        return await asyncio.shield(self.start(key, factory))

    async def cancel_all(self) -> None:
        """Cancel every running call and wait for them to finish."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, key: K, task: asyncio.Task[V]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled():
            # Mark the exception retrieved: the owner logs failures; a background refresh
            # nobody awaits must not end as "Task exception was never retrieved".
            task.exception()
