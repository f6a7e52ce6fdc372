"""Drive the generated dialog with aiogram-dialog's test tools and the static provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiogram.types import Message, User
from aiogram_dialog import ShowMode
from aiogram_dialog.test_tools import BotClient, MockMessageManager
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator
from aiogram_dialog.test_tools.memory_storage import JsonMemoryStorage
from aiogram_dialog.utils import CB_SEP

from engine.app import BotApp, create_dispatcher
from engine.definitions import Definitions, load_definitions
from engine.rates.offline import create_offline_rates
from engine.rates.service import RateService
from providers.base import Pair, Quote, RatesProviderProtocol
from providers.errors import ProviderUnavailableError

ROOT = Path(__file__).resolve().parents[3]


def screen(message: Message) -> str:
    """Text and keyboard of a message, intent id masked: what a snapshot holds."""
    lines = [message.text or ""]
    markup = message.reply_markup
    if markup is not None and hasattr(markup, "inline_keyboard"):
        for row in markup.inline_keyboard:
            cells = []
            for button in row:
                data = button.callback_data or ""
                if CB_SEP in data:
                    data = "<intent>:" + data.split(CB_SEP, 1)[1]
                cells.append(f"[{button.text} | {data}]")
            lines.append("  ".join(cells))
    return "\n".join(lines)


class RecordingMessageManager(MockMessageManager):
    """The mock, plus the show mode of every window shown (SEND = a new message)."""

    def __init__(self) -> None:
        super().__init__()
        self.show_modes: list[ShowMode] = []

    async def show_message(self, bot, new_message, old_message):  # type: ignore[no-untyped-def]
        self.show_modes.append(new_message.show_mode)
        return await super().show_message(bot, new_message, old_message)


@dataclass
class Chat:
    """One admin talking to the bot."""

    client: BotClient
    manager: RecordingMessageManager
    app: BotApp
    transcript: list[str] = field(default_factory=list)

    def last(self) -> Message:
        return self.manager.last_message()

    def keyboard_message(self) -> Message:
        """The newest message that has a keyboard (the current window)."""
        for message in reversed(self.manager.sent_messages):
            if message.reply_markup is not None:
                return message
        raise AssertionError("no window with a keyboard was sent")

    def window(self) -> Message:
        """The newest message with text: the window being shown."""
        for message in reversed(self.manager.sent_messages):
            if message.text:
                return message
        raise AssertionError("no window was sent")

    def _record(self) -> None:
        self.transcript.append(screen(self.window()))

    async def send(self, text: str) -> str:
        self.manager.reset_history()
        await self.client.send(text)
        self._record()
        return self.window().text or ""

    async def click(self, label: str) -> str:
        message = self.window()
        self.manager.reset_history()
        callback_id = await self.client.click(message, InlineButtonTextLocator(label))
        self.manager.assert_answered(callback_id)
        self._record()
        return self.window().text or ""


class FlakyProvider:
    """Wraps a provider; fails while ``down`` is set."""

    def __init__(self, inner: RatesProviderProtocol) -> None:
        self.inner = inner
        self.name = inner.name
        self.down = False
        self.calls = 0

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        self.calls += 1
        if self.down:
            raise ProviderUnavailableError(self.name, "connection refused (test)")
        return await self.inner.fetch(pairs)

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture(scope="session")
def definitions() -> Definitions:
    return load_definitions(ROOT / "config.yaml")


@pytest.fixture
async def make_chat(definitions: Definitions) -> AsyncIterator[Callable[..., Chat]]:
    created: list[RateService] = []

    def factory(
        *, language: str | None = None, defs: Definitions | None = None,
        rates: RateService | None = None, user_id: int = 1,
    ) -> Chat:
        defs = defs or definitions
        service = rates or create_offline_rates(defs.config)
        created.append(service)
        manager = RecordingMessageManager()
        app = create_dispatcher(defs, rates=service, storage=JsonMemoryStorage(),
                                message_manager=manager)
        client = BotClient(app.dispatcher, user_id=user_id, chat_id=user_id)
        client.user = User(id=user_id, is_bot=False, first_name="Admin", language_code=language)
        return Chat(client, manager, app)

    yield factory
    for service in created:
        await service.close()
