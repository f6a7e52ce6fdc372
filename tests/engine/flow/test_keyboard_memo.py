"""Keyboards are rendered once per locale and option set, and every dialog gets its own
callback data: kept buttons are never modified by the intent prefix."""

from __future__ import annotations

import itertools

import pytest
from aiogram.types import Message, User
from aiogram_dialog.api.entities import stack
from aiogram_dialog.test_tools import BotClient
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator
from aiogram_dialog.test_tools.memory_storage import JsonMemoryStorage
from aiogram_dialog.utils import CB_SEP
from flow_helpers import RecordingMessageManager, button

from engine.app import create_dispatcher
from engine.definitions import Definitions
from engine.rates.offline import create_offline_rates


class Admins:
    """Several admins talking to one dispatcher, so they share its keyboards."""

    def __init__(self, definitions: Definitions, languages: dict[int, str]) -> None:
        self.manager = RecordingMessageManager()
        self.rates = create_offline_rates(definitions.config)
        self.app = create_dispatcher(
            definitions,
            rates=self.rates,
            admins=list(languages),
            storage=JsonMemoryStorage(),
            message_manager=self.manager,
        )
        self.clients = {}
        for user_id, language in languages.items():
            client = BotClient(self.app.dispatcher, user_id=user_id, chat_id=user_id)
            client.user = User(
                id=user_id, is_bot=False, first_name="Admin", language_code=language
            )
            self.clients[user_id] = client

    def window(self, user_id: int) -> Message:
        for message in reversed(self.manager.sent_messages):
            if message.chat.id == user_id and message.reply_markup is not None:
                return message
        raise AssertionError(f"no window for {user_id}")

    async def send(self, user_id: int, text: str) -> Message:
        await self.clients[user_id].send(text)
        return self.window(user_id)

    async def click(self, user_id: int, label: str) -> Message:
        await self.clients[user_id].click(self.window(user_id), InlineButtonTextLocator(label))
        return self.window(user_id)


def buttons(message: Message) -> list[tuple[str, str]]:
    """(label, callback data) of every button."""
    markup = message.reply_markup
    assert markup is not None and hasattr(markup, "inline_keyboard")
    return [(b.text, b.callback_data or "") for row in markup.inline_keyboard for b in row]


def intents(message: Message) -> set[str]:
    """The intent ids in a keyboard's callback data; each must carry exactly one."""
    found = set()
    for _, data in buttons(message):
        assert data.count(CB_SEP) == 1, data
        found.add(data.split(CB_SEP, 1)[0])
    return found


async def test_each_dialog_gets_its_own_intent_in_shared_buttons(
    definitions: Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiogram-dialog's ids are the second plus one of 100 random numbers: three intents in
    # one second share one now and then (3 %). Distinct ids, so the memo is what is tested.
    monkeypatch.setattr(stack, "new_int_id", itertools.count(1_000).__next__)
    admins = Admins(definitions, {1: "ru", 2: "ru"})
    first = await admins.send(1, "/admin_bot")
    second = await admins.send(2, "/admin_bot")
    again = await admins.send(1, "/admin_bot")  # a new dialog: a new intent
    seen = [intents(first), intents(second), intents(again)]
    assert all(len(ids) == 1 for ids in seen)
    assert len(set.union(*seen)) == 3
    assert [label for label, _ in buttons(first)] == [label for label, _ in buttons(second)]
    # The first admin's old keyboard is still the first dialog's; the newest one works.
    assert intents(first) == seen[0]
    target = await admins.click(1, button("RUB"))
    assert intents(target) == seen[2]
    await admins.rates.close()


async def test_keyboards_follow_locale_and_options(definitions: Definitions) -> None:
    admins = Admins(definitions, {1: "ru", 2: "en", 3: "ru"})
    ru = await admins.send(1, "/admin_bot")
    en = await admins.send(2, "/admin_bot")
    assert "✖️ Отмена" in [label for label, _ in buttons(ru)]
    assert "✖️ Отмена" not in [label for label, _ in buttons(en)]
    after_rub = await admins.click(1, button("RUB"))
    await admins.send(3, "/admin_bot")
    after_usdt = await admins.click(3, button("USDT"))
    rub_targets = {label for label, _ in buttons(after_rub)}
    usdt_targets = {label for label, _ in buttons(after_usdt)}
    assert any(label.endswith(" USDT") for label in rub_targets)
    assert not any(label.endswith(" RUB") for label in rub_targets)
    assert any(label.endswith(" RUB") for label in usdt_targets)
    await admins.rates.close()


async def test_labels_are_rendered_once_per_key(definitions: Definitions, monkeypatch) -> None:
    admins = Admins(definitions, {1: "ru", 2: "ru", 3: "ru"})
    rendered: list[str] = []
    string = definitions.renderer.string

    def counting(locale, section, key, context):  # type: ignore[no-untyped-def]
        if section == "buttons":
            rendered.append(key)
        return string(locale, section, key, context)

    monkeypatch.setattr(definitions.renderer, "string", counting)
    await admins.send(1, "/admin_bot")
    first = len(rendered)
    await admins.send(2, "/admin_bot")
    await admins.send(3, "/admin_bot")
    assert first > 0
    assert len(rendered) == first
    await admins.rates.close()
