"""Hot reload: new config.yaml, flows and templates in a running bot, checked first.

``SIGHUP``, ``crypto-helper reload`` (``POST /reload`` on the health port) or, with
``bot.watch: true``, saving a file runs :meth:`~engine.reload.reloader.Reloader.reload`: the
files are validated as ``crypto-helper check`` validates them; a set with problems is
refused (the bot serves on, the log has ``check``'s lines); a valid one is put in place
between two updates by a complete new dispatcher
(:class:`~engine.reload.switch.Switchboard`), sharing the storage, so dialogs whose steps
still exist continue. Settings only a restart can apply are reported, not applied.

Layers, bottom-up: :mod:`~engine.reload.fileset` and :mod:`~engine.reload.changes` (pure),
:mod:`~engine.reload.result` (data), :mod:`~engine.reload.feed` and
:mod:`~engine.reload.switch` (aiogram), :mod:`~engine.reload.reloader`,
:mod:`~engine.reload.watch` (watchfiles), :mod:`~engine.reload.control` (the HTTP route);
:mod:`~engine.reload.command` is the command's client.

The package itself imports only the light modules: ``crypto-helper reload`` must answer in
a blink, without aiogram. The others are imported where they are wired (``engine.app``).
"""

from engine.reload.changes import keep_running, rates_differ, restart_needed
from engine.reload.fileset import FileSet, file_set
from engine.reload.result import LoadedSet, ReloadResult

__all__ = [
    "FileSet",
    "LoadedSet",
    "ReloadResult",
    "file_set",
    "keep_running",
    "rates_differ",
    "restart_needed",
]
