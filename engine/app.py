"""The composition root: the one place that picks concrete classes and wires them.

Nothing else imports this module. :func:`create_dispatcher` builds the aiogram side from
loaded definitions and services (tests call it with fakes); :func:`run_bot` is
``crypto-helper run``: polling (default) or webhook, a health/metrics server on ``PORT``,
memory or Redis storage, graceful SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from aiogram.types import BotCommand
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiogram_dialog import setup_dialogs
from aiogram_dialog.api.protocols import MessageManagerProtocol
from aiohttp import web
from dotenv import load_dotenv
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.bot.access import AccessMiddleware
from engine.bot.commands import create_commands_router, create_fallback_router
from engine.bot.errors import StorageFailureMiddleware, create_errors_router
from engine.bot.inflight import InFlight
from engine.bot.middleware_metrics import setup_metrics_middleware
from engine.bot.retry import RetryAfterMiddleware
from engine.bot.session import JsonBodySession
from engine.bot.storage import CompactMemoryStorage
from engine.bot.typed_text import TypedTextMiddleware
from engine.bot.warmup import freeze_heap, pin_response_models
from engine.check import validate
from engine.config.loader import config_path
from engine.config.models import AppConfig
from engine.definitions import Definitions
from engine.flow.builder import FlowDialog, build_dialog
from engine.health import setup_health_routes
from engine.logs import setup_logging
from engine.metrics import BotMetrics
from engine.rates.budget import Budgets, FileLedger, budget_policy
from engine.rates.cache import FileQuoteStore
from engine.rates.offline import create_offline_rates
from engine.rates.preloader import Preloader
from engine.rates.redis_store import RedisRatesBackend, create_redis_rates_backend
from engine.rates.service import RateService
from engine.settings import Settings, SettingsError, load_settings
from providers.base import QuotaReportingProtocol, RatesProviderProtocol
from providers.http import create_http_session
from providers.registry import ProviderRegistry, create_registry

log = logging.getLogger("engine.app")
EXIT_USER_ERROR = 2
SHUTDOWN_GRACE_SECONDS = 8.0
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Short timeouts (an admin must not wait on a dead Redis) and a quick reconnect-and-retry,
# so a connection the server closed (a Redis restart) costs one retry, not a failed update.
REDIS_CONNECTION: dict[str, Any] = {
    "socket_timeout": 2.0,
    "socket_connect_timeout": 2.0,
    "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
    "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    "health_check_interval": 15,
}


@dataclass(frozen=True)
class BotApp:
    """The wired application: dispatcher, its flows and services."""

    dispatcher: Dispatcher
    flows: list[FlowDialog]
    rates: RateService
    inflight: InFlight


def create_dispatcher(
    defs: Definitions,
    *,
    rates: RateService,
    admins: Iterable[int],
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
    message_manager: MessageManagerProtocol | None = None,
) -> BotApp:
    """The dispatcher with every flow's dialog, commands, access control and services."""
    isolation = events_isolation or SimpleEventIsolation()
    dispatcher = Dispatcher(
        storage=storage if storage is not None else MemoryStorage(), events_isolation=isolation
    )
    dispatcher["rates"] = rates
    dispatcher["config"] = defs.config
    inflight = InFlight()
    dispatcher.update.outer_middleware(inflight)
    access = AccessMiddleware(admins, defs.config, defs.renderer)
    dispatcher.message.outer_middleware(access)
    dispatcher.callback_query.outer_middleware(access)
    # Before setup_dialogs: aiogram-dialog must not read zero-width characters as a button.
    dispatcher.message.outer_middleware(TypedTextMiddleware())
    flows = [build_dialog(flow, defs.config, defs.renderer) for flow in defs.flows]
    main = flows[0]
    # Commands first (so /cancel is not read as a number), then the flows, then fallbacks.
    dispatcher.include_router(create_commands_router(main, defs.config, defs.renderer))
    for flow in flows:
        dispatcher.include_router(flow.dialog)
    dispatcher.include_router(create_fallback_router())
    dispatcher.include_router(create_errors_router(main, defs.config, defs.renderer))
    # Registered before setup_dialogs, so it runs first on errors.
    dispatcher.errors.middleware(StorageFailureMiddleware(defs.config, defs.renderer))
    setup_dialogs(dispatcher, message_manager=message_manager, events_isolation=isolation)
    return BotApp(dispatcher, flows, rates, inflight)


def create_providers(
    config: AppConfig,
    session: aiohttp.ClientSession,
    env: Mapping[str, str],
    registry: ProviderRegistry,
) -> dict[str, RatesProviderProtocol]:
    """One instance per configured provider; API keys come from the named variables."""
    providers: dict[str, RatesProviderProtocol] = {}
    for name, block in config.providers.items():
        plugin = registry.get(block.kind)
        key = env.get(block.api_key_env) if block.api_key_env else None
        providers[name] = plugin(name, block, session=session, api_key=key or None)
    return providers


def create_rate_service(
    config: AppConfig,
    providers: Mapping[str, RatesProviderProtocol],
    *,
    data_dir: Path,
    backend: RedisRatesBackend | None = None,
) -> RateService:
    """The live rate service.

    Alone, its cache and the metered providers' monthly counts are kept in ``data_dir``
    (``rates.json``, ``budget.json``), so a restart neither loses the rates nor spends the
    budget again. With ``backend`` (replicas sharing Redis) both live in Redis, entries
    are stamped with the Redis server's clock, and one replica at a time fetches.
    Breakers and the guard always run on this process's monotonic clock.
    """
    policies = {
        name: policy
        for name, block in config.providers.items()
        if (policy := budget_policy(block, config.budget)) is not None
    }
    vendor = {
        name: partial(getattr, provider, "quota")
        for name, provider in providers.items()
        if isinstance(provider, QuotaReportingProtocol)
    }
    if backend is not None:
        budgets = Budgets(policies, backend.ledger, backend.clock, vendor)
        return RateService(
            config,
            providers,
            backend.clock,
            store=backend.store,
            fetch_lock=backend.fetch_lock,
            timer=time.monotonic,
            wall=backend.clock,
            budgets=budgets,
        )
    store = FileQuoteStore(data_dir / "rates.json", config.cache.max_size)
    budgets = Budgets(policies, FileLedger(data_dir / "budget.json"), time.time, vendor)
    return RateService(config, providers, store=store, budgets=budgets)


def create_bot_session(telegram_api_url: str | None) -> AiohttpSession:
    """The Bot API session, pointed at ``TELEGRAM_API_URL`` when set, retrying 429s."""
    server = (
        TelegramAPIServer.from_base(telegram_api_url.rstrip("/")) if telegram_api_url else None
    )
    session = JsonBodySession(api=server) if server else JsonBodySession()
    session.middleware(RetryAfterMiddleware())
    return session


def create_bot(settings: Settings) -> Bot:
    """The Bot: HTML parse mode by default, its session from :func:`create_bot_session`."""
    assert settings.bot_token is not None
    return Bot(
        settings.bot_token.get_secret_value(),
        session=create_bot_session(settings.telegram_api_url),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


async def set_commands(bot: Bot, config: AppConfig, locales: Iterable[str]) -> None:
    """Register the menu of commands for every locale, and a default one."""
    for locale in [None, *locales]:
        lang = locale or config.bot.default_locale
        commands = [
            BotCommand(command=c.command, description=c.description.get(lang, c.command))
            for c in config.bot.commands
        ]
        await bot.set_my_commands(commands, language_code=locale)


def admin_ids(config: AppConfig, settings: Settings) -> frozenset[int]:
    admins = frozenset(config.bot.admin_ids) | frozenset(settings.admin_ids)
    if not admins:
        log.warning(
            "No admins configured: the bot refuses everyone. Set ADMIN_IDS=<Telegram user "
            "id>[,<id>...] in the environment or bot.admin_ids in config.yaml (a user's id "
            "is shown by bots such as @userinfobot)."
        )
    return admins


def redis_url_of(config: AppConfig, settings: Settings) -> str | None:
    """Redis is used when ``REDIS_URL`` is set or ``storage.backend`` is ``redis``."""
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    return DEFAULT_REDIS_URL if config.storage.backend == "redis" else None


@contextlib.asynccontextmanager
async def storage_for(
    config: AppConfig, settings: Settings
) -> AsyncIterator[tuple[BaseStorage, BaseEventIsolation]]:
    """Memory storage, or Redis (``storage.backend: redis`` or ``REDIS_URL``)."""
    url = redis_url_of(config, settings)
    if url is not None:
        ttl = config.storage.state_ttl_seconds
        storage = RedisStorage.from_url(
            url,
            connection_kwargs=REDIS_CONNECTION,
            key_builder=DefaultKeyBuilder(with_destiny=True),
            state_ttl=ttl,
            data_ttl=ttl,
        )
        isolation = RedisEventIsolation(
            redis=storage.redis, key_builder=DefaultKeyBuilder(with_destiny=True)
        )
        log.info("storage: redis")
        try:
            yield storage, isolation
        finally:
            await storage.close()
        return
    log.info("storage: memory (one process; set REDIS_URL to share state between replicas)")
    yield CompactMemoryStorage(config.storage.state_ttl_seconds), SimpleEventIsolation()


async def serve(defs: Definitions, settings: Settings, *, offline: bool) -> None:
    """Run the bot until SIGTERM/SIGINT, then finish in-flight updates and close."""
    config = defs.config
    admins = admin_ids(config, settings)
    http = create_http_session()
    providers: dict[str, RatesProviderProtocol] = {}
    redis_url = redis_url_of(config, settings)
    backend = None
    preloader = None
    clock_task: asyncio.Task[None] | None = None
    if offline:
        rates = create_offline_rates(config)
    else:
        providers = create_providers(config, http, os.environ, create_registry())
        if redis_url is not None:
            backend = create_redis_rates_backend(redis_url, config)
            await backend.clock.sync()
            clock_task = asyncio.create_task(backend.keep_clock(), name="redis clock")
        rates = create_rate_service(config, providers, data_dir=settings.data_dir, backend=backend)
        preloader = Preloader(rates, config, leader=backend.leader if backend else None)
    bot = create_bot(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with storage_for(config, settings) as (storage, isolation):
        app = create_dispatcher(
            defs, rates=rates, admins=admins, storage=storage, events_isolation=isolation
        )
        metrics = BotMetrics()
        app.dispatcher["metrics"] = metrics
        setup_metrics_middleware(app.dispatcher, metrics)

        async def storage_ping() -> bool:
            if isinstance(storage, RedisStorage):
                return bool(await storage.redis.ping())
            return True

        web_app = web.Application()
        setup_health_routes(
            web_app, rates=rates, metrics=metrics, storage_ping=storage_ping, providers=providers
        )
        port = settings.port or config.server.port
        webhook = config.bot.mode == "webhook"
        if webhook:
            assert settings.webhook_secret is not None and settings.webhook_url is not None
            SimpleRequestHandler(
                app.dispatcher, bot, secret_token=settings.webhook_secret.get_secret_value()
            ).register(web_app, path=config.bot.webhook_path)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, config.server.host, port).start()
        log.info("health server on port %s", port)
        pinned = pin_response_models()  # held for the life of the process
        freeze_heap()
        log.debug("warm-up: %d response models pinned, heap frozen", len(pinned))
        try:
            await set_commands(bot, config, defs.renderer.locales)
            if offline:
                await rates.snapshot()  # static rates: cached at once, so ready is 200
            if preloader is not None:
                preloader.start()
            if webhook:
                assert settings.webhook_url is not None and settings.webhook_secret is not None
                url = settings.webhook_url.rstrip("/") + config.bot.webhook_path
                await bot.set_webhook(url, secret_token=settings.webhook_secret.get_secret_value())
                await app.dispatcher.emit_startup(bot=bot)
                log.info("webhook mode: serving %s", config.bot.webhook_path)
                await stop.wait()
                await app.dispatcher.emit_shutdown(bot=bot)
            else:
                await bot.delete_webhook(drop_pending_updates=False)
                polling = asyncio.create_task(
                    app.dispatcher.start_polling(
                        bot, handle_signals=False, close_bot_session=False
                    )
                )
                log.info("polling mode (%s rates)", "offline" if offline else "live")
                await asyncio.wait(
                    [polling, asyncio.create_task(stop.wait())],
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not polling.done():
                    await app.dispatcher.stop_polling()
                await polling
            log.info("stopping: finishing %d update(s) in progress", app.inflight.count)
        finally:
            await runner.cleanup()  # stop taking webhook updates
            if not await app.inflight.wait_idle(SHUTDOWN_GRACE_SECONDS):
                log.warning("stopped with %d update(s) unfinished", app.inflight.count)
            if preloader is not None:
                await preloader.stop()  # gives up the Redis leadership, so before backend.close
            await rates.close()
            if clock_task is not None:
                clock_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await clock_task
            if backend is not None:
                await backend.close()
            for provider in providers.values():
                await provider.close()
            await http.close()
            await bot.session.close()
    log.info("stopped")


def run_bot(config_arg: str | None, *, offline: bool = False) -> int:
    """``crypto-helper run``: exit 2 with a one-line reason on a configuration mistake."""
    load_dotenv(override=False)  # .env feeds the API keys named in config.yaml too
    # Exactly what `crypto-helper check` validates, with the same messages: a bot that
    # starts can send everything its definitions hold.
    found = validate(str(config_path(config_arg)))
    if found.definitions is None or found.problems:
        for problem in found.problems:
            print(problem, file=sys.stderr)
        print(
            f"{len(found.problems)} problem(s) found; fix them (crypto-helper check) "
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
        for s in (settings.bot_token, settings.webhook_secret, settings.redis_url)
        if s
    ]
    secrets += [
        os.environ.get(p.api_key_env, "") for p in defs.config.providers.values() if p.api_key_env
    ]
    setup_logging(settings.log_level, secrets, json_lines=settings.log_format == "json")
    asyncio.run(serve(defs, settings, offline=offline))
    return 0
