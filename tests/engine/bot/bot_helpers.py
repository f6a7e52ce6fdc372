"""Helpers: a bot that records what would go to Telegram, and a user session."""

from __future__ import annotations

import datetime
from dataclasses import replace
from typing import Any

from aiogram.methods import AnswerCallbackQuery, SendMessage, TelegramMethod
from aiogram.types import Chat, Message, User
from aiogram_dialog.test_tools import BotClient, MockMessageManager
from aiogram_dialog.test_tools.bot_client import FakeBot

from engine.app import BotApp
from engine.flow.services import SERVICES_KEY

ADMIN = 1001
STRANGER = 2002


class RecordingBot(FakeBot):
    """Records every method; sendMessage answers with a plausible Message."""

    def __init__(self) -> None:
        self.calls: list[TelegramMethod[Any]] = []
        self._next_id = 1000

    async def __call__(
        self, method: TelegramMethod[Any], request_timeout: int | None = None
    ) -> Any:
        self.calls.append(method)
        if isinstance(method, AnswerCallbackQuery):
            return True
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


class Session:
    def __init__(
        self,
        app: BotApp,
        bot: RecordingBot,
        manager: MockMessageManager,
        user_id: int,
        language: str | None,
    ) -> None:
        self.app, self.bot, self.manager = app, bot, manager
        self.client = BotClient(app.dispatcher, user_id=user_id, chat_id=user_id, bot=bot)
        self.client.user = User(id=user_id, is_bot=False, first_name="U", language_code=language)

    def serve_with(self, **changes: Any) -> None:
        """The flow's actions get these services instead (a recording journal, metrics,
        rates that fail)."""
        services = replace(self.app.services, **changes)
        self.app.dispatcher[SERVICES_KEY] = services
