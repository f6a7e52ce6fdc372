"""Helpers for driving the generated dialog in tests."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import Chat as TgChat
from aiogram.types import Message
from aiogram_dialog import ShowMode
from aiogram_dialog.test_tools import BotClient, MockMessageManager
from aiogram_dialog.test_tools.bot_client import FakeBot
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator

from engine.app import BotApp
from engine.testing.snapshots import message_screen
from providers.base import Pair, Quote, RatesProviderProtocol
from providers.errors import ProviderUnavailableError


def screen(message: Message) -> str:
    """Text and keyboard of a message, intent id and times masked: what a snapshot holds
    (the snapshot kit's format, so the bot's windows compare with the kit's)."""
    return message_screen(message)


class SendingBot(FakeBot):
    """aiogram-dialog's stub bot, plus sendMessage (what a send button sends), recorded."""

    def __init__(self) -> None:
        self.sent: list[SendMessage] = []

    async def __call__(
        self, method: TelegramMethod[Any], request_timeout: int | None = None
    ) -> Any:
        if isinstance(method, SendMessage):
            self.sent.append(method)
            return Message(
                message_id=10_000 + len(self.sent),
                date=datetime.datetime.now(),
                chat=TgChat(id=int(method.chat_id), type="private"),
                text=method.text,
            )
        return await super().__call__(method, request_timeout)


class RecordingMessageManager(MockMessageManager):
    """The mock, plus the show mode of every window shown (SEND = a new message); an edit
    keeps the message id, as in Telegram (the mock numbers every window anew)."""

    def __init__(self) -> None:
        super().__init__()
        self.show_modes: list[ShowMode] = []

    async def show_message(self, bot, new_message, old_message):  # type: ignore[no-untyped-def]
        self.show_modes.append(new_message.show_mode)
        shown = await super().show_message(bot, new_message, old_message)
        if old_message is None or new_message.show_mode is not ShowMode.EDIT:
            return shown
        same_id = old_message.message_id
        self.sent_messages[-1] = self.sent_messages[-1].model_copy(update={"message_id": same_id})
        return dataclasses.replace(shown, message_id=same_id)


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


def button(code: str) -> str:
    """Locator regex for a currency button (``🇷🇺 RUB``)."""
    return f".* {code}"


async def to_amount(chat: Chat, give: str, get: str, margin: str = "2") -> None:
    await chat.send("/admin_bot")
    await chat.click(button(give))
    await chat.click(button(get))
    await chat.send(margin)


async def walk_to(chat: Chat, step: str) -> None:
    """Open the dialog and go RUB → USDT, 2 %, 1000 until ``step`` is shown."""
    await chat.send("/admin_bot")
    if step == "source":
        return
    await chat.click(button("RUB"))
    if step == "target":
        return
    await chat.click(button("USDT"))
    if step == "margin":
        return
    await chat.send("2")
    if step == "amount":
        return
    await chat.send("1000")
