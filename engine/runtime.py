"""The running bot: :class:`Runtime`, what :func:`engine.app.build_runtime` acquired, and
how it takes updates until told to stop (:func:`run_runtime`: polling, or a webhook).

Also what is said to Telegram about the bot: the command menu (:func:`set_commands`), the
webhook (:func:`point_webhook`), and after a reload what changed (:func:`announce`). On
shutdown the updates in progress get :data:`SHUTDOWN_GRACE_SECONDS` to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand

from engine.bot.inflight import InFlight
from engine.bot.session import JsonBodySession
from engine.config.models import AppConfig
from engine.definitions import Definitions
from engine.reload.feed import Generation, update_types
from engine.reload.reloader import Reloader
from engine.reload.switch import Switchboard
from engine.reload.watch import Watcher
from engine.settings import Settings

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 8.0


async def set_commands(bot: Bot, config: AppConfig, locales: Iterable[str]) -> None:
    """Register the menu of commands for every locale, and a default one: at once, one
    round trip to Telegram rather than one per locale."""

    def menu(lang: str) -> list[BotCommand]:
        return [
            BotCommand(command=c.command, description=c.description.get(lang, c.command))
            for c in config.bot.commands
        ]

    await asyncio.gather(
        *(
            bot.set_my_commands(menu(locale or config.bot.default_locale), language_code=locale)
            for locale in [None, *locales]
        )
    )


async def finish_updates(inflight: InFlight) -> None:
    """Give the updates in progress :data:`SHUTDOWN_GRACE_SECONDS` to finish (when the
    dispatcher's shutdown did not run, e.g. polling failed), then cancel the rest."""
    await inflight.finish(SHUTDOWN_GRACE_SECONDS)


@dataclass(frozen=True)
class Runtime:
    """Everything :func:`engine.app.build_runtime` acquired; :meth:`aclose` releases it,
    last first."""

    defs: Definitions  # as started; the serving ones are switchboard.current.defs
    settings: Settings
    bot: Bot
    switchboard: Switchboard  # the dispatcher and rate service serving (they change on reload)
    reloader: Reloader
    watcher: Watcher
    offline: bool
    resources: contextlib.AsyncExitStack = field(repr=False)

    async def aclose(self) -> None:
        """Stop serving HTTP, let updates in progress finish, then close the rest."""
        await self.resources.aclose()


async def announce(old: Generation, new: Generation, *, bot: Bot, settings: Settings) -> None:
    """After a reload, tell Telegram what changed: the command menu, and the update types
    the new flows handle (webhook: ``setWebhook`` again; polling: the next
    ``getUpdates``). A refusal is a WARNING: the new definitions serve all the same."""
    before, after = old.defs, new.defs
    try:
        menu = (before.config.bot.commands, list(before.renderer.locales))
        if menu != (after.config.bot.commands, list(after.renderer.locales)):
            await set_commands(bot, after.config, after.renderer.locales)
            log.info("reload: the command menu is updated")
        types = update_types(new.app.dispatcher)
        if set(types) == set(update_types(old.app.dispatcher)):
            return
        if after.config.bot.mode == "webhook":
            await point_webhook(bot, settings, after.config, types)
        elif isinstance(bot.session, JsonBodySession):
            bot.session.allowed_updates = types
        log.info("reload: Telegram is asked for %s from now on", ", ".join(types))
    except TelegramAPIError as exc:
        log.warning(
            "reload: Telegram refused the new command menu or update types (%s); the new "
            "definitions serve all the same",
            exc,
        )


async def point_webhook(bot: Bot, settings: Settings, config: AppConfig, types: list[str]) -> None:
    """``setWebhook`` to ``WEBHOOK_URL`` for the update types the handlers use (inline
    queries too), as polling asks for them: a webhook set before keeps its own list
    otherwise."""
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    await bot.set_webhook(
        settings.webhook_url.rstrip("/") + config.bot.webhook_path,
        secret_token=settings.webhook_secret.get_secret_value(),
        allowed_updates=types,
    )


async def run_webhook(runtime: Runtime, stop: asyncio.Event) -> None:
    """Point Telegram at ``WEBHOOK_URL`` and serve until ``stop``."""
    config, bot, feed = runtime.defs.config, runtime.bot, runtime.switchboard.feed
    await point_webhook(bot, runtime.settings, config, feed.update_types())
    await feed.current.app.dispatcher.emit_startup(bot=bot)
    log.info("webhook mode: serving %s", config.bot.webhook_path)
    await stop.wait()
    await feed.current.app.dispatcher.emit_shutdown(bot=bot)


async def run_polling(runtime: Runtime, stop: asyncio.Event) -> None:
    """Poll until ``stop`` (or until polling ends on its own). The feed polls; the
    dispatcher serving has its start-up and shutdown hooks run around it."""
    bot, feed = runtime.bot, runtime.switchboard.feed
    await bot.delete_webhook(drop_pending_updates=False)
    await feed.current.app.dispatcher.emit_startup(bot=bot)
    try:
        polling = asyncio.create_task(
            feed.start_polling(
                bot,
                handle_signals=False,
                close_bot_session=False,
                allowed_updates=feed.update_types(),
            )
        )
        log.info("polling mode (%s rates)", "offline" if runtime.offline else "live")
        await asyncio.wait(
            [polling, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if not polling.done():
            await feed.stop_polling()
        await polling
    finally:
        await feed.current.app.dispatcher.emit_shutdown(bot=bot)


async def run_runtime(runtime: Runtime, stop: asyncio.Event) -> None:
    """Register the commands, start preloading and watching, then take updates until
    ``stop``."""
    await set_commands(runtime.bot, runtime.defs.config, runtime.defs.renderer.locales)
    parts = runtime.switchboard.current.parts
    if runtime.offline:
        await parts.rates.snapshot()  # static rates: cached at once, so ready is 200
    if parts.preloader is not None:
        parts.preloader.start()
    runtime.switchboard.serving()
    runtime.watcher.follow(runtime.defs)
    if runtime.defs.config.bot.mode == "webhook":
        await run_webhook(runtime, stop)
    else:
        await run_polling(runtime, stop)
