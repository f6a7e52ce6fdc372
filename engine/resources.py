"""What the bot needs from outside, each acquired, checked and released: the other half of
the composition root (:mod:`engine.app` enters them, in order, in ``build_runtime``).

Each acquirer is an async context manager that checks its resource as it comes, within
:data:`STARTUP_TIMEOUT_SECONDS`, and closes it on exit:

* :func:`storage_for`: memory storage, or Redis that answers a PING;
* :func:`journal_for`: the quote journal's database, migrated;
* :func:`bot_for`: a Bot whose token Telegram accepts (``getMe``);
* :func:`rates_for`: the rate service with its providers, the Redis rates backend when
  Redis is used, and the preloader (or the offline static rates);
* :func:`web_server`: the health/webhook server listening on its port.

A resource that is not there is a :class:`StartupError` whose one line names it and what to
do, never a secret (:func:`failure_cause` says why a connection failed without quoting the
exception's text).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiohttp import web

from engine.bot.storage import CompactMemoryStorage
from engine.config.models import AppConfig
from engine.errors import EngineError, causes
from engine.journal.errors import JournalConfigError, JournalUnavailableError
from engine.journal.runtime import Journal, open_journal
from engine.journal.url import database_target
from engine.rates.budget import Budgets, FileLedger, budget_policy
from engine.rates.cache import FileQuoteStore
from engine.rates.offline import create_offline_rates
from engine.rates.preloader import Preloader
from engine.rates.service import RateService
from engine.settings import REDIS_URL_SHAPE, Settings
from providers.base import QuotaReportingProtocol, RatesProviderProtocol
from providers.http import create_http_session
from providers.registry import ProviderRegistry, create_registry

if TYPE_CHECKING:  # redis-py is imported only where Redis is used (storage_for, rates_for)
    from redis.asyncio import Redis

    from engine.rates.redis_store import RedisRatesBackend

# How long start-up waits for Telegram or Redis to answer before it gives up with one line.
STARTUP_TIMEOUT_SECONDS = 5.0
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_connection() -> dict[str, Any]:
    """Short timeouts (an admin must not wait on a dead Redis) and a quick reconnect-and-
    retry, so a connection the server closed (a Redis restart) costs one retry, not a
    failed update."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return {
        "socket_timeout": 2.0,
        "socket_connect_timeout": 2.0,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": 15,
    }


class StartupError(EngineError):
    """A resource the bot needs is unavailable at start; the message names it and what to do.

    Never holds a secret: messages are built from our words and the resource's host.
    """


def redis_client(storage: BaseStorage) -> Redis | None:
    """The Redis client of a Redis FSM storage; None for any other storage (and whenever
    redis-py was never loaded, since then no storage can be a Redis one)."""
    module = sys.modules.get("aiogram.fsm.storage.redis")
    if module is None or not isinstance(storage, module.RedisStorage):
        return None
    client: Redis = storage.redis
    return client


def redis_url_of(config: AppConfig, settings: Settings) -> str | None:
    """Redis is used when ``REDIS_URL`` is set or ``storage.backend`` is ``redis``."""
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    return DEFAULT_REDIS_URL if config.storage.backend == "redis" else None


def failure_cause(exc: BaseException) -> str:
    """Why a connection failed, in a few words, from the exception chain.

    Not the exceptions' own text: aiohttp's holds the request URL (with the bot token),
    redis-py's may hold more than the host.
    """
    redis = sys.modules.get("redis.exceptions")  # loaded only where Redis is used
    redis_timeout = redis.TimeoutError if redis is not None else TimeoutError
    redis_garbled = redis.InvalidResponse if redis is not None else ()
    for seen in causes(exc):
        if isinstance(seen, socket.gaierror):
            return "host not found"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError | redis_timeout):
            return f"no answer in {STARTUP_TIMEOUT_SECONDS:g} s"
        if isinstance(seen, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(seen, redis_garbled):
            return "it does not answer like Redis"
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
    from redis.exceptions import AuthenticationError, RedisError

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
    from aiogram.fsm.storage.redis import RedisStorage

    from engine.bot.redis_isolation import RenewingRedisEventIsolation

    try:
        storage = RedisStorage.from_url(
            url,
            connection_kwargs=redis_connection(),
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
    async with contextlib.AsyncExitStack() as stack:
        try:  # only opening is refused in one line: what the bot raises later stays its own
            journal = await stack.enter_async_context(open_journal(target, config.journal))
        except JournalUnavailableError as exc:
            fix = (
                "fix DATA_DIR or DATABASE_URL"
                if target.is_sqlite
                else "start it or fix DATABASE_URL"
            )
            raise StartupError(
                f"journal database unusable at {target.where()} ({exc.cause}): {fix}"
            ) from exc
        yield journal


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
        # bot.me(): aiogram keeps the answer, so polling's own bot.me() asks no second time
        async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
            await bot.me()
    except TelegramUnauthorizedError as exc:
        raise StartupError(
            "Telegram refused BOT_TOKEN (401 Unauthorized): check the token from @BotFather"
        ) from exc
    except (TelegramNetworkError, TimeoutError) as exc:
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
async def bot_for(bot: Bot, telegram_api_url: str | None) -> AsyncIterator[Bot]:
    """``bot``, once Telegram accepted its token (see :func:`check_telegram`); its session
    is closed on exit."""
    try:
        await check_telegram(bot, telegram_api_url)
        yield bot
    finally:
        await bot.session.close()


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
            from engine.rates.redis_store import create_redis_rates_backend

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
