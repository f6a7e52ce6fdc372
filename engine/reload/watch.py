"""``bot.watch: true``: reload when a file of the set changes, no signal needed.

Change notification comes from `watchfiles <https://watchfiles.helpmanual.io>`_ (inotify on
Linux, its own polling where there is none: set ``WATCHFILES_FORCE_POLLING=1`` on a network
or container mount that sends no events). It watches each folder holding a file of the set
(not the folders below: config.yaml's folder may hold ``data/``, whose rates are rewritten
every minute), and passes on only the changes that may change the set
(:meth:`~.fileset.FileSet.holds`: the set's files, a new template or ``strings.yaml``;
editors' swap files and backups never). Changes are gathered until none came for
:data:`STEP_MS` (an editor's "save all", a ``git checkout``), at most :data:`DEBOUNCE_MS`,
then one reload runs; a change during a reload is the next one. An editor that saves by
writing a new file and renaming it over the old is seen like any other save.

The watcher follows the set: after a reload it watches the folders of the new set, and it
stops or starts as the reloaded ``bot.watch`` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from engine.definitions import Definitions
from engine.reload.fileset import FileSet
from engine.reload.result import ReloadResult

log = logging.getLogger(__name__)

STEP_MS = 100  # quiet time that ends a batch of changes
DEBOUNCE_MS = 1_600  # the longest a batch is gathered
RETRY_SECONDS = 5.0  # after watching failed (a watch limit reached): polling then
# How often the watching thread looks at the stop event (it stops within this).
THREAD_TIMEOUT_MS = 1_000


class Watcher:
    """Runs :func:`watchfiles.awatch` over the current set's folders, reloading on change.

    Args:
        files: the current set's files (they change with each reload).
        reload: the reload, given the trigger's name.
        trigger: that name (``file change``).
    """

    def __init__(
        self,
        files: Callable[[], FileSet],
        reload: Callable[[str], Awaitable[ReloadResult]],
        trigger: str,
    ) -> None:
        self._files = files
        self._reload = reload
        self._trigger = trigger
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._ending: set[asyncio.Task[None]] = set()  # stopped, ending within a second

    @property
    def watching(self) -> bool:
        return self._task is not None

    def follow(self, defs: Definitions) -> None:
        """Start or stop as ``defs``' ``bot.watch`` says (stopping ends in the background)."""
        if defs.config.bot.watch and self._task is None:
            self.start()
        elif not defs.config.bot.watch and self._task is not None:
            log.info("reload: bot.watch is off; SIGHUP or crypto-helper reload reloads")
            self._stop.set()
            self._ending.add(self._task)
            self._task.add_done_callback(self._ending.discard)
            self._task = None

    def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(self._stop), name="watch definitions")

    async def stop(self) -> None:
        """Stop watching (a reload it started is cancelled) and wait for it to end: the
        watching thread looks at the stop event every :data:`THREAD_TIMEOUT_MS`."""
        task, self._task = self._task, None
        self._stop.set()
        for ending in [*self._ending, *([task] if task is not None else [])]:
            ending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ending

    async def _run(self, stop: asyncio.Event) -> None:
        polling = False
        while not stop.is_set():
            files = self._files()
            folders = [f for f in files.folders if f.is_dir()]
            log.info(
                "reload: watching %d file(s) in %d folder(s)%s (bot.watch)",
                len(files.files),
                len(folders),
                " by polling" if polling else "",
            )
            try:
                await self._watch(files, folders, stop, polling=polling)
            except OSError as exc:  # e.g. the inotify watch limit; polling needs none
                log.warning(
                    "reload: watching the files failed (%s); polling them instead in %g s",
                    exc,
                    RETRY_SECONDS,
                )
                polling = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_SECONDS)

    async def _watch(
        self, files: FileSet, folders: list[Path], stop: asyncio.Event, *, polling: bool
    ) -> None:
        """Reload on each batch of changes; return when stopped or when the set's folders
        changed (the caller watches the new ones)."""
        # Here, not at the top: only bot.watch needs watchfiles (7 ms, 1 MB at every start).
        from watchfiles import Change, awatch

        def relevant(change: Change, path: str) -> bool:
            return self._files().holds(Path(path))

        async for changes in awatch(
            *folders,
            watch_filter=relevant,
            stop_event=stop,
            recursive=False,
            step=STEP_MS,
            debounce=DEBOUNCE_MS,
            rust_timeout=THREAD_TIMEOUT_MS,
            force_polling=True if polling else None,
        ):
            log.debug("reload: changed: %s", ", ".join(sorted(p for _, p in changes)))
            await self._reload(self._trigger)
            if self._files().folders != files.folders:
                return
