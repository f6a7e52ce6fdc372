"""The reload: read the files again, validate them as ``check`` does, put them in place.

:meth:`Reloader.reload` is what ``SIGHUP``, ``crypto-helper reload`` (``POST /reload``) and
``bot.watch`` call, one at a time (a second request waits for the first, then usually finds
nothing new):

1. the fingerprint of the files (:mod:`.fileset`): the running set's means nothing to do
   (``unchanged``). Anything else is validated, even files that failed before: a new
   config.yaml may name files the running set does not have (a new locale's templates),
   whose arrival no fingerprint of the running set would show;
2. :func:`~engine.check.validate`, the very validation of ``crypto-helper check`` and of
   ``run``'s start, in a worker thread (it renders every window: about a second of CPU the
   loop should not wait for); the thread's own log lines are muted as ``check`` mutes its
   own, the bot's other lines are not. Any error: the running set goes on serving, and the
   log has exactly the lines ``check`` prints (errors at ERROR, warnings at WARNING) and one
   summary line;
3. the settings only a restart applies (:mod:`.changes`): each one changed is a WARNING
   naming it, and keeps its running value;
4. ``apply``: the composition root's way to put a set in place
   (:meth:`~.switch.Switchboard.put_in_place`). If it fails (a bug: it is logged with its
   traceback) the running set goes on serving too.

:class:`ReloadResult` says what happened, for the command and ``/health/ready``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.check import Validation, validate
from engine.definitions import Definitions
from engine.reload.changes import keep_running, restart_needed
from engine.reload.fileset import FileSet, file_set
from engine.reload.result import LoadedSet, ReloadResult, status_json

log = logging.getLogger(__name__)

TRIGGER_SIGNAL = "SIGHUP"
TRIGGER_COMMAND = "crypto-helper reload"
TRIGGER_WATCH = "file change"


class _ThreadMute(logging.Filter):
    """Drops the records of one thread."""

    def __init__(self, thread: int) -> None:
        super().__init__()
        self.thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


def validate_quietly(config: Path) -> Validation:
    """:func:`~engine.check.validate` with this thread's log lines muted (call it in a
    worker thread: the other threads' lines, the bot's, still go out)."""
    mute = _ThreadMute(threading.get_ident())
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(mute)
    try:
        return validate(str(config), mute_logs=False)
    finally:
        for handler in handlers:
            handler.removeFilter(mute)


class Reloader:
    """Reloads the definitions of a running bot (see the module docstring).

    Args:
        config: the config.yaml the bot was started with.
        running: the definitions serving.
        apply: puts validated definitions in place; raises when it cannot (nothing changed
            then).
        validate: the validation (:func:`validate_quietly`; tests pass another).
    """

    def __init__(
        self,
        config: Path,
        running: Definitions,
        apply: Callable[[Definitions], Awaitable[None]],
        *,
        validate: Callable[[Path], Validation] = validate_quietly,
    ) -> None:
        self.config = config
        self._running = running
        self._apply = apply
        self._validate = validate
        self._files = file_set(config, running.config)
        self.loaded = LoadedSet(self._files.fingerprint(), len(self._files.files))
        self.last: ReloadResult | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[ReloadResult]] = set()
        self._closed = False
        self._on_applied: list[Callable[[Definitions], None]] = []

    @property
    def running(self) -> Definitions:
        return self._running

    @property
    def files(self) -> FileSet:
        """The files of the set serving (what a watcher watches)."""
        return self._files

    def on_applied(self, callback: Callable[[Definitions], None]) -> None:
        """Call ``callback(definitions)`` after each set put in place."""
        self._on_applied.append(callback)

    def status(self) -> dict[str, Any]:
        """``/health/ready``'s ``definitions``."""
        return status_json(self.loaded, self.last)

    def request(self, trigger: str) -> None:
        """Reload in the background (a signal handler cannot wait); the log tells."""
        if self._closed:
            return
        task = asyncio.create_task(self.reload(trigger), name=f"reload ({trigger})")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self, trigger: str) -> ReloadResult:
        """Read, validate and put in place the files' set (see the module docstring)."""
        started = time.perf_counter()
        async with self._lock:
            if self._closed:
                running = self.loaded.fingerprint
                return ReloadResult("failed", trigger, running, running, error="stopping")
            result = await self._reload(trigger, started)
            self.last = result
            return result

    async def _reload(self, trigger: str, started: float) -> ReloadResult:
        running = self.loaded.fingerprint
        tried = await asyncio.to_thread(self._fingerprint_now)
        if tried == running:
            log.info("reload (%s): nothing new, the files are those of set %s", trigger, tried)
            return ReloadResult(
                "unchanged", trigger, tried, running, seconds=time.perf_counter() - started
            )
        found = await asyncio.to_thread(self._validate, self.config)
        warnings = tuple(str(p) for p in found.problems if p.warning)
        errors = tuple(str(p) for p in found.errors)
        if found.definitions is None or errors:
            failed = ReloadResult(
                "failed",
                trigger,
                tried,
                running,
                problems=errors,
                warnings=warnings,
                seconds=time.perf_counter() - started,
            )
            self._log_problems(failed)
            return failed
        for line in warnings:
            log.warning("%s", line)
        return await self._put_in_place(trigger, started, tried, found.definitions, warnings)

    async def _put_in_place(
        self,
        trigger: str,
        started: float,
        tried: str,
        new: Definitions,
        warnings: tuple[str, ...],
    ) -> ReloadResult:
        running = self._running
        restart = tuple(restart_needed(running.config, new.config))
        for setting in restart:
            log.warning(
                "reload (%s): %s: restart needed to apply it; until then it stays as it runs",
                trigger,
                setting,
            )
        defs = replace(new, config=keep_running(running.config, new.config))
        try:
            await self._apply(defs)
        except Exception as exc:
            log.exception(
                "reload (%s): the new set could not be put in place; still serving set %s",
                trigger,
                self.loaded.fingerprint,
            )
            return ReloadResult(
                "failed",
                trigger,
                tried,
                self.loaded.fingerprint,
                warnings=warnings,
                restart_needed=restart,
                error=f"{type(exc).__name__}: {exc}",
                seconds=time.perf_counter() - started,
            )
        previous = self.loaded.fingerprint
        files = file_set(self.config, defs.config)
        fingerprint = await asyncio.to_thread(files.fingerprint)
        self._running, self._files = defs, files
        self.loaded = LoadedSet(fingerprint, len(files.files))
        seconds = time.perf_counter() - started
        log.info(
            "reload (%s): set %s is serving (was %s), put in place in %.2f s; dialogs in "
            "progress continue%s",
            trigger,
            fingerprint,
            previous,
            seconds,
            f"; {len(restart)} setting(s) need a restart (above)" if restart else "",
        )
        for callback in self._on_applied:
            callback(defs)
        return ReloadResult(
            "applied",
            trigger,
            fingerprint,
            fingerprint,
            warnings=warnings,
            restart_needed=restart,
            seconds=seconds,
        )

    def _fingerprint_now(self) -> str:
        """The set the running config names, as the files are now (a template added)."""
        return file_set(self.config, self._running.config).fingerprint()

    def _log_problems(self, failed: ReloadResult) -> None:
        """What ``check`` prints, line for line, then one summary line."""
        for line in failed.warnings:
            log.warning("%s", line)
        for line in failed.problems:
            log.error("%s", line)
        log.error(
            "reload (%s): %d problem(s) found; still serving set %s (loaded %s). Fix them "
            "(crypto-helper check) and reload again.",
            failed.trigger,
            len(failed.problems),
            self.loaded.fingerprint,
            self.loaded.since.isoformat(timespec="seconds"),
        )

    async def aclose(self) -> None:
        """No reload from now on; one in progress is cancelled (the process is stopping)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
