"""The composition root: the one place that picks concrete classes and wires them.

Nothing else imports this module. :func:`create_dispatcher` builds the aiogram side from
loaded definitions and services (tests call it with fakes); :func:`run_bot` is
``crypto-helper run``: polling (default) or webhook, a health/metrics server on ``PORT``,
memory or Redis storage, graceful SIGTERM, and SIGHUP (``crypto-helper reload``,
``bot.watch``) reloading the definitions into a new dispatcher (:mod:`engine.reload`).

Start-up is check, settings, runtime: :func:`run_bot` validates the definitions as
``crypto-helper check`` does, then reads the environment, then :func:`build_runtime`
acquires every resource through one :class:`contextlib.AsyncExitStack` (Redis, Telegram,
the rate service, the health/webhook server), checking each as it comes; :func:`serve`
runs the :class:`Runtime` and releases it. A resource that is not there is a
:class:`StartupError`: one line on stderr, exit 2, everything acquired before it closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import BotCommand
from aiogram_dialog import setup_dialogs
from aiogram_dialog.api.protocols import MessageManagerProtocol
from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, InvalidResponse, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.bot.access import AccessMiddleware
from engine.bot.commands import create_commands_router, create_fallback_router
from engine.bot.errors import StorageFailureMiddleware, create_errors_router
from engine.bot.inflight import InFlight, InFlightDispatcher, create_webhook_gate
from engine.bot.inline import create_inline_router
from engine.bot.journal_commands import create_journal_router
from engine.bot.middleware_metrics import setup_metrics_middleware
from engine.bot.retry import RetryAfterMiddleware
from engine.bot.session import JsonBodySession
from engine.bot.storage import CompactMemoryStorage, RenewingRedisEventIsolation
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
from engine.errors import EngineError
from engine.flow.builder import FlowDialog, build_dialog
from engine.flow.services import SERVICES_KEY, FlowServices, QuoteIdentity
from engine.health import setup_health_routes
from engine.journal.errors import JournalConfigError, JournalUnavailableError
from engine.journal.runtime import Journal, open_journal
from engine.journal.url import database_target
from engine.logs import RedactingFormatter, secrets_in_env, setup_logging
from engine.metrics import BotMetrics
from engine.rates.budget import Budgets, FileLedger, budget_policy
from engine.rates.cache import FileQuoteStore
from engine.rates.offline import create_offline_rates
from engine.rates.preloader import Preloader
from engine.rates.redis_store import RedisRatesBackend, create_redis_rates_backend
from engine.rates.service import RateService
from engine.reload.control import setup_reload_route
from engine.reload.feed import CurrentProviders, CurrentRates, Generation, update_types
from engine.reload.reloader import TRIGGER_COMMAND, TRIGGER_SIGNAL, TRIGGER_WATCH, Reloader
from engine.reload.switch import Switchboard, Wiring
from engine.reload.watch import Watcher
from engine.settings import (
    REDIS_URL_SHAPE,
    Settings,
    SettingsError,
    load_env_file,
    load_settings,
)
from providers.base import QuotaReportingProtocol, RatesProviderProtocol
from providers.http import create_http_session
from providers.registry import ProviderRegistry, create_registry

log = logging.getLogger("engine.app")
EXIT_USER_ERROR = 2
SHUTDOWN_GRACE_SECONDS = 8.0
# How long start-up waits for Telegram or Redis to answer before it gives up with one line.
STARTUP_TIMEOUT_SECONDS = 5.0
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


async def set_commands(bot: Bot, config: AppConfig, locales: Iterable[str]) -> None:
    """Register the menu of commands for every locale, and a default one."""
    for locale in [None, *locales]:
        lang = locale or config.bot.default_locale
        commands = [
            BotCommand(command=c.command, description=c.description.get(lang, c.command))
            for c in config.bot.commands
        ]
        await bot.set_my_commands(commands, language_code=locale)


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


def redis_url_of(config: AppConfig, settings: Settings) -> str | None:
    """Redis is used when ``REDIS_URL`` is set or ``storage.backend`` is ``redis``."""
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    return DEFAULT_REDIS_URL if config.storage.backend == "redis" else None


class StartupError(EngineError):
    """A resource the bot needs is unavailable at start; the message names it and what to do.

    Never holds a secret: messages are built from our words and the resource's host.
    """


def failure_cause(exc: BaseException) -> str:
    """Why a connection failed, in a few words, from the exception chain.

    Not the exceptions' own text: aiohttp's holds the request URL (with the bot token),
    redis-py's may hold more than the host.
    """
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, socket.gaierror):
            return "host not found"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError | RedisTimeoutError):
            return f"no answer in {STARTUP_TIMEOUT_SECONDS:g} s"
        if isinstance(seen, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(seen, InvalidResponse):
            return "it does not answer like Redis"
        seen = seen.__cause__ or seen.__context__
    return "connection failed"


def redis_where(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL, without its credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


async def check_redis(redis: Redis, url: str, *, from_env: bool) -> None:
    """One PING within :data:`STARTUP_TIMEOUT_SECONDS`.

    Raises:
        StartupError: Redis refused the credentials, or did not answer.
    """
    where = redis_where(url)
    fix = "fix REDIS_URL" if from_env else "set REDIS_URL"
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
            # redis-py 7 types ping() as sync | async for both clients.
            await cast("Awaitable[bool]", redis.ping())
    except AuthenticationError as exc:
        raise StartupError(
            f"Redis at {where} refused the credentials: put the right user name and "
            "password in REDIS_URL (redis://user:password@host:port/0)"
        ) from exc
    except (RedisError, OSError) as exc:  # TimeoutError is an OSError
        raise StartupError(
            f"Redis unreachable at {where} ({failure_cause(exc)}): start Redis or {fix}"
        ) from exc


@contextlib.asynccontextmanager
async def storage_for(
    config: AppConfig, settings: Settings
) -> AsyncIterator[tuple[BaseStorage, BaseEventIsolation]]:
    """Memory storage, or Redis (``storage.backend: redis`` or ``REDIS_URL``) that answers.

    Raises:
        StartupError: a malformed Redis URL, or a Redis that does not answer.
    """
    url = redis_url_of(config, settings)
    if url is None:
        yield CompactMemoryStorage(config.storage.state_ttl_seconds), SimpleEventIsolation()
        return
    try:
        storage = RedisStorage.from_url(
            url,
            connection_kwargs=REDIS_CONNECTION,
            key_builder=DefaultKeyBuilder(with_destiny=True),
            state_ttl=config.storage.state_ttl_seconds,
            data_ttl=config.storage.state_ttl_seconds,
        )
    except ValueError as exc:  # what Settings does not check (query arguments)
        raise StartupError(f"REDIS_URL is malformed ({exc}): use {REDIS_URL_SHAPE}") from exc
    try:
        await check_redis(storage.redis, url, from_env=settings.redis_url is not None)
        keys = DefaultKeyBuilder(with_destiny=True)
        yield storage, RenewingRedisEventIsolation(storage.redis, keys)
    finally:
        await storage.close()


@contextlib.asynccontextmanager
async def journal_for(config: AppConfig, settings: Settings) -> AsyncIterator[Journal]:
    """The quote journal: ``DATABASE_URL``, else ``DATA_DIR/journal.sqlite3``, migrated.

    Raises:
        StartupError: a malformed ``DATABASE_URL``, SQLite with Redis scale-out (a SQLite
            file is for one process), or a database that does not answer or refuses.
    """
    url = settings.database_url.get_secret_value() if settings.database_url else None
    try:
        target = database_target(url, settings.data_dir)
    except JournalConfigError as exc:
        raise StartupError(str(exc)) from exc
    if target.is_sqlite and redis_url_of(config, settings) is not None:
        raise StartupError(
            "DATABASE_URL: the quote journal is a SQLite file, which one process alone may "
            "write, and Redis (REDIS_URL or storage.backend: redis) is for several replicas: "
            "set DATABASE_URL=postgresql+asyncpg://user:password@host:5432/database"
        )
    opened = open_journal(target, config.journal)
    try:
        journal = await opened.__aenter__()
    except JournalUnavailableError as exc:
        fix = (
            "fix DATA_DIR or DATABASE_URL" if target.is_sqlite else "start it or fix DATABASE_URL"
        )
        raise StartupError(
            f"journal database unusable at {target.where()} ({exc.cause}): {fix}"
        ) from exc
    try:
        yield journal
    finally:
        await opened.__aexit__(None, None, None)


def telegram_where(telegram_api_url: str | None) -> str:
    """The Bot API server's host (and port), without credentials."""
    if not telegram_api_url:
        return "api.telegram.org"
    return urlsplit(telegram_api_url).netloc.rpartition("@")[2]


async def check_telegram(bot: Bot, telegram_api_url: str | None) -> None:
    """``getMe`` within :data:`STARTUP_TIMEOUT_SECONDS`: the token is accepted and the Bot API
    server answers (the first call otherwise waits aiogram's 60 s, then a traceback).

    Raises:
        StartupError: Telegram refused the token, did not answer, or is not a Bot API server.
    """
    where = telegram_where(telegram_api_url)
    fix = (
        "check TELEGRAM_API_URL and that the server runs"
        if telegram_api_url
        else "check the network (a firewall or proxy may block it)"
    )
    try:
        await bot.get_me(request_timeout=int(STARTUP_TIMEOUT_SECONDS))
    except TelegramUnauthorizedError as exc:
        raise StartupError(
            "Telegram refused BOT_TOKEN (401 Unauthorized): check the token from @BotFather"
        ) from exc
    except TelegramNetworkError as exc:
        raise StartupError(
            f"Telegram unreachable at {where} ({failure_cause(exc)}): {fix}"
        ) from exc
    except TelegramAPIError as exc:  # 404 (a wrong path), 5xx, 429 after the retries
        later = "check TELEGRAM_API_URL" if telegram_api_url else "try again in a minute"
        raise StartupError(
            f"Telegram at {where} answered getMe with an error ({exc.message}): {later}"
        ) from exc
    except ClientDecodeError as exc:
        raise StartupError(
            f"{where} does not answer like a Bot API server: check TELEGRAM_API_URL"
        ) from exc


@contextlib.asynccontextmanager
async def bot_for(settings: Settings, skipped: SkippedUpdates | None = None) -> AsyncIterator[Bot]:
    """The Bot, once Telegram accepted its token (see :func:`check_telegram`)."""
    bot = create_bot(settings, skipped)
    try:
        await check_telegram(bot, settings.telegram_api_url)
        yield bot
    finally:
        await bot.session.close()


@dataclass(frozen=True)
class RatesParts:
    """The rate service, its preloader (live rates only) and the providers it calls."""

    rates: RateService
    preloader: Preloader | None
    providers: dict[str, RatesProviderProtocol]


async def cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def rates_for(
    config: AppConfig, settings: Settings, *, offline: bool
) -> AsyncIterator[RatesParts]:
    """Offline rates, or live ones: HTTP session, providers, the Redis rates backend when
    Redis is used (its clock kept in sync), the rate service and its preloader."""
    async with contextlib.AsyncExitStack() as stack:
        if offline:
            rates = create_offline_rates(config)
            stack.push_async_callback(rates.close)
            yield RatesParts(rates, None, {})
            return
        http = create_http_session()
        stack.push_async_callback(http.close)
        providers = create_providers(config, http, os.environ, create_registry())
        for provider in providers.values():
            stack.push_async_callback(provider.close)
        backend = None
        redis_url = redis_url_of(config, settings)
        if redis_url is not None:
            backend = create_redis_rates_backend(redis_url, config)
            stack.push_async_callback(backend.close)
            await backend.clock.sync()
            clock = asyncio.create_task(backend.keep_clock(), name="redis clock")
            stack.push_async_callback(cancel, clock)
        rates = create_rate_service(config, providers, data_dir=settings.data_dir, backend=backend)
        stack.push_async_callback(rates.close)
        preloader = Preloader(rates, config, leader=backend.leader if backend else None)
        # Gives up the Redis leadership, so it stops before the backend closes.
        stack.push_async_callback(preloader.stop)
        yield RatesParts(rates, preloader, providers)


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
        if isinstance(storage, RedisStorage):
            return bool(await cast("Awaitable[bool]", storage.redis.ping()))
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


def listen_problem(exc: OSError, host: str, port: int, source: str) -> str:
    """One line for a failed ``bind``: what happened and what to do."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} ({source}) is already in use on {host}: stop the other process "
            "or set PORT to a free port"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} ({source}): set PORT to a port above 1023"
    return (
        f"cannot listen on {host}:{port} ({exc.strerror}): check server.host in config.yaml "
        "and PORT"
    )


@contextlib.asynccontextmanager
async def web_server(
    web_app: web.Application, host: str, port: int, source: str
) -> AsyncIterator[web.AppRunner]:
    """The health/webhook server listening on ``host:port``; cleaned up on exit.

    Raises:
        StartupError: the port is taken (or may not be used).
    """
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise StartupError(listen_problem(exc, host, port, source)) from exc
        yield runner
    finally:
        await runner.cleanup()  # stops taking webhook updates first


async def finish_updates(inflight: InFlight) -> None:
    """Give the updates in progress :data:`SHUTDOWN_GRACE_SECONDS` to finish (when the
    dispatcher's shutdown did not run, e.g. polling failed), then cancel the rest."""
    await inflight.finish(SHUTDOWN_GRACE_SECONDS)


@dataclass(frozen=True)
class Runtime:
    """Everything :func:`build_runtime` acquired; :meth:`aclose` releases it, last first."""

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
    rate stack with :func:`rates_for` when config.yaml's rate side changed.

    Raises:
        StartupError: a resource is unavailable; one line naming it and what to do.
    """
    config = defs.config
    async with contextlib.AsyncExitStack() as stack:
        storage, isolation = await stack.enter_async_context(storage_for(config, settings))
        # Closed after the updates in progress finished: their quotes are written first.
        journal = await stack.enter_async_context(journal_for(config, settings))
        skipped = SkippedUpdates()  # updates that cannot be parsed, polling or webhook
        bot = await stack.enter_async_context(bot_for(settings, skipped))
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
        if isinstance(storage, RedisStorage):
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
