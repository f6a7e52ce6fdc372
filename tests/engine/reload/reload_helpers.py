"""A running bot in a test: a copy of the shipped project, the real dispatcher behind the
update feed, the real switchboard and reloader; offline rates; aiogram-dialog's BotClient."""

from __future__ import annotations

import contextlib
import datetime
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram.methods import AnswerCallbackQuery, SendMessage, TelegramMethod
from aiogram.types import Chat, Message, User
from aiogram_dialog.test_tools import BotClient, MockMessageManager
from aiogram_dialog.test_tools.bot_client import FakeBot
from aiogram_dialog.test_tools.memory_storage import JsonMemoryStorage

from engine.app import BotApp, create_dispatcher
from engine.bot.inflight import InFlight
from engine.bot.updates import SkippedUpdates
from engine.config.models import AppConfig
from engine.definitions import Definitions, load_definitions
from engine.rates.offline import create_offline_rates
from engine.rates.preloader import Preloader
from engine.rates.service import RateService
from engine.reload.feed import Generation
from engine.reload.reloader import Reloader
from engine.reload.switch import Switchboard, Wiring
from engine.testing.snapshots import FIXED_IDENTITY

ROOT = Path(__file__).resolve().parents[3]
ADMIN = 1001


def copy_project(dest: Path) -> Path:
    """config.yaml, flows/ and templates/ as shipped, in ``dest``; returns config.yaml."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config.yaml", dest / "config.yaml")
    for folder in ("flows", "templates"):
        shutil.copytree(ROOT / folder, dest / folder)
    return dest / "config.yaml"


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one ``old`` in ``path`` with ``new``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: expected one {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


class RecordingBot(FakeBot):
    """Records every method; sendMessage answers with a plausible Message."""

    def __init__(self) -> None:
        self.calls: list[TelegramMethod[Any]] = []
        self._next_id = 1000

    async def __call__(
        self, method: TelegramMethod[Any], request_timeout: int | None = None
    ) -> Any:
        self.calls.append(method)
        if isinstance(method, SendMessage):
            self._next_id += 1
            return Message(
                message_id=self._next_id,
                date=datetime.datetime.now(),
                chat=Chat(id=int(method.chat_id), type="private"),
                text=method.text,
            )
        return True

    def sent(self) -> list[SendMessage]:
        return [c for c in self.calls if isinstance(c, SendMessage)]

    def answers(self) -> list[AnswerCallbackQuery]:
        return [c for c in self.calls if isinstance(c, AnswerCallbackQuery)]


@dataclass(frozen=True)
class OfflineParts:
    """What ``engine.resources.rates_for(offline=True)`` yields."""

    rates: RateService
    preloader: Preloader | None = None
    providers: dict[str, Any] = field(default_factory=dict)


@dataclass
class Bot:
    """The running bot of a test."""

    config: Path
    reloader: Reloader
    switchboard: Switchboard
    manager: MockMessageManager
    telegram: RecordingBot
    client: BotClient
    opened: list[RateService]
    closed: list[RateService]

    @property
    def serving(self) -> Definitions:
        return self.switchboard.current.defs

    def last_text(self) -> str:
        return self.manager.last_message().text or ""

    def file(self, name: str) -> Path:
        return self.config.parent / name


@contextlib.asynccontextmanager
async def running_bot(
    folder: Path, language: str = "ru", *, watch: bool = False
) -> AsyncIterator[Bot]:
    """A project copied into ``folder``, served as ``crypto-helper run --offline`` wires it
    (memory storage shared by every dispatcher, one InFlight for all); ``watch``: with
    ``bot.watch: true``."""
    config = copy_project(folder)
    if watch:
        edit(config, "  watch: false ", "  watch: true ")
    defs = load_definitions(config)
    storage = JsonMemoryStorage()
    manager = MockMessageManager()
    telegram = RecordingBot()
    inflight = InFlight()
    opened: list[RateService] = []
    closed: list[RateService] = []

    @contextlib.asynccontextmanager
    async def open_rates(app_config: AppConfig) -> AsyncIterator[OfflineParts]:
        rates = create_offline_rates(app_config)
        opened.append(rates)
        try:
            yield OfflineParts(rates)
        finally:
            await rates.close()
            closed.append(rates)

    def create_app(new: Definitions, rates: RateService) -> BotApp:
        return create_dispatcher(
            new,
            rates=rates,
            admins=[ADMIN],
            identity=FIXED_IDENTITY,
            storage=storage,
            message_manager=manager,
            inflight=inflight,
        )

    async def announce(old: Generation, new: Generation) -> None:
        return None

    first = contextlib.AsyncExitStack()
    parts = await first.enter_async_context(open_rates(defs.config))
    app = create_app(defs, parts.rates)
    await app.dispatcher.emit_startup(bot=telegram)
    wiring = Wiring(create_app, open_rates, announce, telegram, SkippedUpdates(), offline=True)
    switchboard = Switchboard(wiring, Generation(defs, app, parts, first))
    reloader = Reloader(config, defs, switchboard.put_in_place)
    client = BotClient(switchboard.feed, user_id=ADMIN, chat_id=ADMIN, bot=telegram)
    client.user = User(id=ADMIN, is_bot=False, first_name="A", language_code=language)
    try:
        yield Bot(config, reloader, switchboard, manager, telegram, client, opened, closed)
    finally:
        await reloader.aclose()
        await switchboard.aclose()
        await storage.close()
