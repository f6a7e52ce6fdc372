"""The composition root: where the concrete classes are picked and wired together.

:func:`create_dispatcher` builds the aiogram side from loaded definitions and services:
every flow's dialog, the commands, access control, and one
:class:`~engine.flow.services.FlowServices` in the workflow data for the flow's actions.
:func:`build_runtime` acquires every resource (:mod:`engine.resources`: Redis, the quote
journal, Telegram, the rate service, the health/webhook server) through one
:class:`contextlib.AsyncExitStack`, checking each as it comes, and returns the
:class:`~engine.runtime.Runtime` that :func:`serve` runs and releases. :func:`run_bot` is
``crypto-helper run``: the definitions validated as ``crypto-helper check`` does, then the
environment, then the runtime: polling (default) or webhook, a health/metrics server on
``PORT``, memory or Redis storage, graceful SIGTERM, and SIGHUP (``crypto-helper reload``,
``bot.watch``) reloading the definitions into a new dispatcher (:mod:`engine.reload`). A
resource that is not there is a :class:`~engine.resources.StartupError`: one line on
stderr, exit 2, everything acquired before it closed.

Imported from above only: :mod:`engine.cli` (``run``: :func:`run_bot`; ``chat``:
:func:`local_app`), the tests and the bench, which build their bots with
:func:`create_dispatcher` or :func:`local_app` instead of wiring a dispatcher a second
time. No module of ``engine`` imported by this one imports it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram_dialog import setup_dialogs
from aiogram_dialog.api.protocols import MessageManagerProtocol
from aiohttp import web

from engine.bot.access import AccessMiddleware
from engine.bot.commands import create_commands_router, create_fallback_router
from engine.bot.errors import StorageFailureMiddleware, create_errors_router
from engine.bot.inflight import InFlight, InFlightDispatcher, create_webhook_gate
from engine.bot.inline import create_inline_router
from engine.bot.journal_commands import create_journal_router
from engine.bot.middleware_metrics import setup_metrics_middleware
from engine.bot.retry import RetryAfterMiddleware
from engine.bot.session import JsonBodySession
from engine.bot.storage import CompactMemoryStorage
from engine.bot.stray import DatalessCallbackMiddleware
from engine.bot.throttle import UserThrottle, setup_throttle
from engine.bot.typed_text import TypedTextMiddleware
from engine.bot.updates import SkippedUpdates
from engine.bot.warmup import freeze_heap, pin_response_models, refreeze_heap
from engine.bot.webhook import UpdateRequestHandler
from engine.check import validate
from engine.config.loader import config_path
from engine.config.models import AppConfig
from engine.definitions import Definitions
from engine.flow.builder import FlowDialog, build_dialog
from engine.flow.services import SERVICES_KEY, FlowServices, QuoteIdentity
from engine.health import setup_health_routes
from engine.journal.errors import JournalConfigError
from engine.journal.runtime import Journal
from engine.journal.url import database_target
from engine.logs import RedactingFormatter, secrets_in_env, setup_logging
from engine.metrics import BotMetrics
from engine.rates.offline import create_offline_rates
from engine.rates.service import RateService
from engine.reload.control import setup_reload_route
from engine.reload.feed import CurrentProviders, CurrentRates, Generation
from engine.reload.reloader import TRIGGER_COMMAND, TRIGGER_SIGNAL, TRIGGER_WATCH, Reloader
from engine.reload.switch import Switchboard, Wiring
from engine.reload.watch import Watcher
from engine.resources import (
    StartupError,
    bot_for,
    journal_for,
    rates_for,
    redis_client,
    storage_for,
    web_server,
)
from engine.runtime import (
    SHUTDOWN_GRACE_SECONDS,
    Runtime,
    announce,
    finish_updates,
    run_runtime,
    set_commands,
)
from engine.settings import Settings, SettingsError, load_env_file, load_settings

log = logging.getLogger("engine.app")
EXIT_USER_ERROR = 2


@dataclass(frozen=True)
class BotApp:
    """The wired application: dispatcher, its flows and services."""

    dispatcher: Dispatcher
    flows: list[FlowDialog]
    services: FlowServices  # the one in the dispatcher's workflow data
    inflight: InFlight
    throttle: UserThrottle


def create_dispatcher(
    defs: Definitions,
    *,
    rates: RateService,
    admins: Iterable[int],
    metrics: BotMetrics | None = None,
    journal: Journal | None = None,
    identity: QuoteIdentity | None = None,
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
    message_manager: MessageManagerProtocol | None = None,
    inflight: InFlight | None = None,
) -> BotApp:
    """The dispatcher with every flow's dialog, commands, access control and services.

    The services reach handlers through aiogram's dependency injection: the flow's
    actions and the quote commands take the one :class:`FlowServices` (``rates``,
    ``metrics``, the ``journal``'s writer, ``identity``: a quote's time and number, live
    unless given), the journal commands ``journal`` and ``journal_store``. With
    ``metrics`` every update is measured too. ``inflight`` counts its updates; the
    dispatchers a reload builds share the process's.
    """
    isolation = events_isolation or SimpleEventIsolation()
    inflight = inflight if inflight is not None else InFlight()
    # Counts every update from the moment it is fed, and finishes them before shutdown.
    dispatcher = InFlightDispatcher(
        inflight=inflight,
        grace=SHUTDOWN_GRACE_SECONDS,
        storage=storage if storage is not None else MemoryStorage(),
        events_isolation=isolation,
    )
    services = FlowServices(
        rates,
        metrics=metrics,
        journal=journal.writer if journal is not None else None,
        identity=identity or QuoteIdentity(),
    )
    dispatcher[SERVICES_KEY] = services
    if journal is not None:  # /history, /export, /today read the store
        dispatcher["journal"] = journal.writer
        dispatcher["journal_store"] = journal.store
    # In front of the FSM lock: one user's flood is dropped, never queued (issue 10 §3).
    throttle = UserThrottle(defs.config, defs.renderer)
    setup_throttle(dispatcher, throttle)
    access = AccessMiddleware(admins, defs.config, defs.renderer)
    dispatcher.message.outer_middleware(access)
    dispatcher.callback_query.outer_middleware(access)
    dispatcher.inline_query.outer_middleware(access)
    # Before setup_dialogs: aiogram-dialog must not read zero-width characters as a button.
    dispatcher.message.outer_middleware(TypedTextMiddleware())
    # Before setup_dialogs too: aiogram-dialog fails on a callback without data.
    dispatcher.callback_query.outer_middleware(DatalessCallbackMiddleware())
    flows = [build_dialog(flow, defs.config, defs.renderer) for flow in defs.flows]
    main = flows[0]
    # Commands first (so /cancel is not read as a number), then the flows, then fallbacks.
    dispatcher.include_router(create_commands_router(main, defs.config, defs.renderer))
    dispatcher.include_router(create_journal_router(main, defs.config, defs.renderer))
    dispatcher.include_router(create_inline_router(main, defs.config, defs.renderer))
    for flow in flows:
        dispatcher.include_router(flow.dialog)
    dispatcher.include_router(create_fallback_router(main, defs.config, defs.renderer))
    dispatcher.include_router(create_errors_router(main, defs.config, defs.renderer))
    # Registered before setup_dialogs, so it runs first on errors.
    dispatcher.errors.middleware(StorageFailureMiddleware(defs.config, defs.renderer))
    setup_dialogs(dispatcher, message_manager=message_manager, events_isolation=isolation)
    if metrics is not None:  # after setup_dialogs: it measures the dialogs' steps too
        setup_metrics_middleware(dispatcher, metrics)
    return BotApp(dispatcher, flows, services, inflight, throttle)


def create_bot_session(
    telegram_api_url: str | None, skipped: SkippedUpdates | None = None
) -> AiohttpSession:
    """The Bot API session, pointed at ``TELEGRAM_API_URL`` when set, retrying 429s;
    updates it cannot parse are recorded in ``skipped`` and skipped."""
    server = (
        TelegramAPIServer.from_base(telegram_api_url.rstrip("/")) if telegram_api_url else None
    )
    session = (
        JsonBodySession(api=server, skipped=skipped)
        if server
        else JsonBodySession(skipped=skipped)
    )
    session.middleware(RetryAfterMiddleware())
    return session


def create_bot(settings: Settings, skipped: SkippedUpdates | None = None) -> Bot:
    """The Bot: HTML parse mode by default, its session from :func:`create_bot_session`."""
    assert settings.bot_token is not None
    return Bot(
        settings.bot_token.get_secret_value(),
        session=create_bot_session(settings.telegram_api_url, skipped),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


@contextlib.asynccontextmanager
async def local_app(
    defs: Definitions, bot: Bot, *, admins: Iterable[int]
) -> AsyncIterator[BotApp]:
    """The bot as ``crypto-helper run --offline`` wires it (static rates, memory storage,
    metrics, the command menu; no quote journal, so nothing is written to disk), for a
    ``bot`` whose session is not Telegram's: the seam of ``crypto-helper chat``. The
    dispatcher's startup and shutdown run around the block."""
    config = defs.config
    rates = create_offline_rates(config)
    storage = CompactMemoryStorage(config.storage.state_ttl_seconds)
    try:
        app = create_dispatcher(
            defs, rates=rates, admins=admins, metrics=BotMetrics(), storage=storage
        )
        await set_commands(bot, config, defs.renderer.locales)
        await rates.snapshot()  # static rates: cached at once, as run --offline does
        await app.dispatcher.emit_startup(bot=bot)
        yield app
        await app.dispatcher.emit_shutdown(bot=bot)
    finally:
        await storage.close()
        await rates.close()


def admin_ids(config: AppConfig, settings: Settings) -> frozenset[int]:
    admins = frozenset(config.bot.admin_ids) | frozenset(settings.admin_ids)
    if not admins:
        log.warning(
            "No admins configured: the bot refuses everyone. Set ADMIN_IDS=<Telegram user "
            "id>[,<id>...] in the environment or bot.admin_ids in config.yaml (a user's id "
            "is shown by bots such as @userinfobot)."
        )
    return admins


def create_web_app(
    defs: Definitions,
    settings: Settings,
    *,
    bot: Bot,
    switchboard: Switchboard,
    inflight: InFlight,
    metrics: BotMetrics,
    storage: BaseStorage,
    skipped: SkippedUpdates | None = None,
    journal: Journal | None = None,
    reloader: Reloader | None = None,
) -> web.Application:
    """Health and metrics routes (of whichever rate service serves), ``POST /reload``, and
    in webhook mode the webhook handler feeding whichever dispatcher serves (bodies that
    are not updates get a 400, updates it cannot parse are recorded in ``skipped``)."""

    async def storage_ping() -> bool:
        client = redis_client(storage)
        if client is not None:
            return bool(await cast("Awaitable[bool]", client.ping()))
        return True

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    web_app = web.Application(
        middlewares=[create_webhook_gate(inflight, defs.config.bot.webhook_path)]
    )
    setup_health_routes(
        web_app,
        rates=CurrentRates(switchboard.feed),
        metrics=metrics,
        storage_ping=storage_ping,
        providers=CurrentProviders(switchboard.feed),
        token=token,
        journal=journal.writer.stats if journal is not None else None,
        definitions=reloader.status if reloader is not None else None,
    )
    if reloader is not None:
        setup_reload_route(
            web_app,
            partial(reloader.reload, TRIGGER_COMMAND),
            config=str(reloader.config),
            token=token,
        )
    if defs.config.bot.mode == "webhook":
        assert settings.webhook_secret is not None
        UpdateRequestHandler(
            switchboard.feed,
            bot,
            skipped=skipped if skipped is not None else SkippedUpdates(),
            secret_token=settings.webhook_secret.get_secret_value(),
        ).register(web_app, path=defs.config.bot.webhook_path)
    return web_app


async def build_runtime(
    defs: Definitions,
    settings: Settings,
    *,
    offline: bool = False,
    config_file: Path | None = None,
) -> Runtime:
    """Acquire, and check, every resource the bot needs, in this order: storage (Redis
    answers a PING), the quote journal (its database migrated), Telegram (``getMe``: the
    token is accepted), the rate service with its providers, the dispatcher, the
    health/webhook server (``PORT`` is free).

    All or nothing: when one fails, everything acquired before it is released, last
    first. A further resource (a database) is one more ``enter_async_context`` here.

    A reload (:mod:`engine.reload`) of ``config_file`` builds a new dispatcher with
    ``wired`` below, sharing the storage, events isolation, metrics and journal, and a new
    rate stack with :func:`~engine.resources.rates_for` when config.yaml's rate side changed.

    Raises:
        StartupError: a resource is unavailable; one line naming it and what to do.
    """
    config = defs.config
    async with contextlib.AsyncExitStack() as stack:
        storage, isolation = await stack.enter_async_context(storage_for(config, settings))
        # Closed after the updates in progress finished: their quotes are written first.
        journal = await stack.enter_async_context(journal_for(config, settings))
        skipped = SkippedUpdates()  # updates that cannot be parsed, polling or webhook
        bot = await stack.enter_async_context(
            bot_for(create_bot(settings, skipped), settings.telegram_api_url)
        )
        # The first rate stack; the switchboard closes it when a reload replaces it.
        first_rates = contextlib.AsyncExitStack()
        stack.push_async_callback(first_rates.aclose)
        parts = await first_rates.enter_async_context(rates_for(config, settings, offline=offline))
        inflight = InFlight()  # every update of every dispatcher, for the shutdown
        metrics = BotMetrics()

        def wired(new: Definitions, rates: RateService) -> BotApp:
            return create_dispatcher(
                new,
                rates=rates,
                admins=admin_ids(new.config, settings),
                metrics=metrics,
                journal=journal,  # compute_quote records through its writer
                storage=storage,
                events_isolation=isolation,
                inflight=inflight,
            )

        app = wired(defs, parts.rates)
        wiring = Wiring(
            create_app=wired,
            open_rates=partial(rates_for, settings=settings, offline=offline),
            announce=partial(announce, bot=bot, settings=settings),
            bot=bot,
            skipped=skipped,
            offline=offline,
            settle=refreeze_heap,
        )
        switchboard = Switchboard(wiring, Generation(defs, app, parts, first_rates))
        stack.push_async_callback(switchboard.aclose)
        # Runs after the server stopped and before the rates and storage close.
        stack.push_async_callback(finish_updates, inflight)
        reloader = Reloader(config_file or config_path(None), defs, switchboard.put_in_place)
        stack.push_async_callback(reloader.aclose)
        watcher = Watcher(lambda: reloader.files, reloader.reload, TRIGGER_WATCH)
        reloader.on_applied(watcher.follow)
        stack.push_async_callback(watcher.stop)
        skipped.count_with(metrics.count_skipped_update)
        # A flooder's surplus is dropped before it is parsed (polling batches).
        skipped.gate_with(app.throttle.refuses_raw)
        web_app = create_web_app(
            defs,
            settings,
            bot=bot,
            switchboard=switchboard,
            inflight=inflight,
            metrics=metrics,
            storage=storage,
            skipped=skipped,
            journal=journal,
            reloader=reloader,
        )
        port = settings.port or config.server.port
        source = "PORT" if settings.port else "server.port"
        await stack.enter_async_context(web_server(web_app, config.server.host, port, source))
        # Logged once everything is there, so that a refused start prints its one line only.
        if redis_client(storage) is not None:
            log.info("storage: redis")
        else:
            log.info(
                "storage: memory (one process; set REDIS_URL to share state between replicas)"
            )
        log.info("%s", journal.describe())
        log.info("health server on port %s", port)
        log.info(
            "definitions: set %s (%d files); SIGHUP or crypto-helper reload reloads them",
            reloader.loaded.fingerprint,
            reloader.loaded.files,
        )
        return Runtime(
            defs,
            settings,
            bot,
            switchboard,
            reloader,
            watcher,
            offline,
            resources=stack.pop_all(),
        )


def ignore_early_reload() -> None:
    log.warning("SIGHUP while starting: ignored; send it again once the bot serves")


async def serve(
    defs: Definitions, settings: Settings, *, offline: bool, config_file: Path | None = None
) -> None:
    """Run the bot until SIGTERM/SIGINT, then finish in-flight updates and close; SIGHUP
    reloads ``config_file`` (:mod:`engine.reload`).

    Raises:
        StartupError: from :func:`build_runtime`, with nothing left open.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # SIGHUP's default would end the process; while starting there is nothing to reload.
    loop.add_signal_handler(signal.SIGHUP, ignore_early_reload)
    runtime = await build_runtime(defs, settings, offline=offline, config_file=config_file)
    loop.add_signal_handler(signal.SIGHUP, runtime.reloader.request, TRIGGER_SIGNAL)
    async with contextlib.aclosing(runtime):
        pinned = pin_response_models()  # held for the life of the process
        freeze_heap()
        log.debug("warm-up: %d response models pinned, heap frozen", len(pinned))
        await run_runtime(runtime, stop)
    log.info("stopped")


def run_bot(config_arg: str | None, *, offline: bool = False) -> int:
    """``crypto-helper run``: exit 2 with a one-line reason on a configuration mistake or
    when a resource it needs (Telegram, Redis, the port) is unavailable at start."""
    load_env_file()  # ./.env feeds the API keys named in config.yaml too
    # First, so that a traceback from here on is redacted; again below with the settings.
    setup_logging("INFO", secrets_in_env(os.environ))
    # Exactly what `crypto-helper check` validates, with the same messages: a bot that
    # starts can send everything its definitions hold.
    path = config_path(config_arg)
    found = validate(str(path))
    for problem in found.problems:  # the warnings too: seen at every start
        print(problem, file=sys.stderr)
    if found.definitions is None or found.errors:
        print(
            f"{len(found.errors)} problem(s) found; fix them (crypto-helper check) "
            "and start again.",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    defs = found.definitions
    try:
        settings = load_settings(mode=defs.config.bot.mode)
    except SettingsError as exc:
        print(f"environment: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    secrets = [
        s.get_secret_value()
        for s in (
            settings.bot_token,
            settings.webhook_secret,
            settings.redis_url,
            settings.metrics_token,
            settings.database_url,
        )
        if s
    ]
    if settings.database_url is not None:  # a driver's message may quote the password alone
        with contextlib.suppress(JournalConfigError):
            url = settings.database_url.get_secret_value()
            password = database_target(url, settings.data_dir).password
            secrets += [password] if password else []
    secrets += [
        os.environ.get(p.api_key_env, "") for p in defs.config.providers.values() if p.api_key_env
    ]
    setup_logging(settings.log_level, secrets, json_lines=settings.log_format == "json")
    try:
        asyncio.run(serve(defs, settings, offline=offline, config_file=path))
    except StartupError as exc:
        print(RedactingFormatter(secrets).redact(str(exc)), file=sys.stderr)
        return EXIT_USER_ERROR
    return 0
