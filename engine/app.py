"""The composition root: the one place that picks concrete classes and wires them.

Nothing else imports this module. ``create_dispatcher`` builds the aiogram side from loaded
definitions and services (tests call it with fakes); ``run_bot`` is ``crypto-helper run``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram_dialog import setup_dialogs
from aiogram_dialog.api.protocols import MessageManagerProtocol
from pydantic import ValidationError

from engine.bot.handlers import create_router
from engine.config.models import AppConfig
from engine.definitions import Definitions, load_definitions
from engine.errors import ConfigError
from engine.flow.builder import FlowDialog, build_dialog
from engine.rates.offline import create_offline_rates
from engine.rates.preloader import Preloader
from engine.rates.service import RateService
from engine.settings import Settings
from providers.base import RatesProviderProtocol
from providers.http import create_http_session
from providers.registry import ProviderRegistry, create_registry

log = logging.getLogger("engine.app")
EXIT_USER_ERROR = 2


@dataclass(frozen=True)
class BotApp:
    """The wired application: dispatcher, its flows and services."""

    dispatcher: Dispatcher
    flows: list[FlowDialog]
    rates: RateService


def create_dispatcher(
    defs: Definitions,
    *,
    rates: RateService,
    storage: BaseStorage | None = None,
    message_manager: MessageManagerProtocol | None = None,
) -> BotApp:
    """The dispatcher with every flow's dialog, the commands and the services injected."""
    dispatcher = Dispatcher(storage=storage or MemoryStorage())
    dispatcher["rates"] = rates
    dispatcher["config"] = defs.config
    flows = [build_dialog(flow, defs.config, defs.renderer) for flow in defs.flows]
    dispatcher.include_router(create_router(flows[0]))
    for flow in flows:
        dispatcher.include_router(flow.dialog)
    setup_dialogs(dispatcher, message_manager=message_manager)
    return BotApp(dispatcher, flows, rates)


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


def _bot(settings: Settings) -> Bot:
    assert settings.bot_token is not None
    session = None
    if settings.telegram_api_url:
        server = TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/"))
        session = AiohttpSession(api=server)
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


async def _serve(defs: Definitions, settings: Settings, *, offline: bool) -> None:
    registry = create_registry()
    http = create_http_session()
    providers: dict[str, Any] = {}
    if offline:
        rates = create_offline_rates(defs.config)
        preloader = None
    else:
        providers = create_providers(defs.config, http, os.environ, registry)
        rates = RateService(defs.config, providers)
        preloader = Preloader(rates, defs.config) if defs.config.preload.enabled else None
    app = create_dispatcher(defs, rates=rates)
    bot = _bot(settings)
    if preloader is not None:
        preloader.start()
    try:
        log.info("polling Telegram (%s)", "offline rates" if offline else "live rates")
        await app.dispatcher.start_polling(bot, handle_signals=True)
    finally:
        if preloader is not None:
            await preloader.stop()
        await rates.close()
        for provider in providers.values():
            await provider.close()
        await http.close()
        await bot.session.close()


def run_bot(config_path: str | None, *, offline: bool = False) -> int:
    """``crypto-helper run``: exit 2 with a one-line reason on a configuration mistake."""
    try:
        settings = Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        print(f"environment: {err['loc'][0]}: {err['msg']}", file=sys.stderr)
        return EXIT_USER_ERROR
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.bot_token is None:
        print(
            "environment: BOT_TOKEN is not set (get one from @BotFather; see README)",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    try:
        defs = load_definitions(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USER_ERROR
    asyncio.run(_serve(defs, settings, offline=offline))
    return 0
