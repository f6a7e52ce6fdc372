"""The in-memory storage forgets empty and idle records, so it cannot grow forever."""

from __future__ import annotations

from aiogram.fsm.storage.base import StorageKey
from aiogram_dialog.test_tools import BotClient, MockMessageManager
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator
from bot_helpers import ADMIN

from engine.app import create_dispatcher
from engine.bot.storage import CompactMemoryStorage
from engine.rates.offline import create_offline_rates


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


KEY = StorageKey(bot_id=1, chat_id=2, user_id=2)


async def test_reads_create_nothing_and_empty_records_go() -> None:
    storage = CompactMemoryStorage(60)
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {}
    assert storage.size == 0
    await storage.set_data(KEY, {"a": 1})
    await storage.set_state(KEY, "s:x")
    assert (await storage.get_data(KEY), await storage.get_state(KEY)) == ({"a": 1}, "s:x")
    assert await storage.get_value(KEY, "a") == 1
    await storage.set_data(KEY, {})
    await storage.set_state(KEY, None)
    assert storage.size == 0


async def test_idle_records_expire() -> None:
    clock = Clock()
    storage = CompactMemoryStorage(60, clock=clock, sweep_every=1)
    await storage.set_data(KEY, {"a": 1})
    clock.now = 59
    assert await storage.get_data(KEY) == {"a": 1}
    clock.now = 61
    assert await storage.get_data(KEY) == {}
    other = StorageKey(bot_id=1, chat_id=3, user_id=3)
    await storage.set_data(KEY, {"a": 1})
    clock.now = 200
    await storage.set_data(other, {"b": 2})  # a write sweeps the idle ones
    assert storage.size == 1


async def test_many_dialogs_leave_a_bounded_storage(definitions) -> None:
    storage = CompactMemoryStorage(3600)
    rates = create_offline_rates(definitions.config)
    manager = MockMessageManager()
    app = create_dispatcher(
        definitions, rates=rates, admins=[ADMIN], storage=storage, message_manager=manager
    )
    assert app.dispatcher.storage is storage
    client = BotClient(app.dispatcher, user_id=ADMIN, chat_id=ADMIN)
    sizes = []
    for _ in range(30):
        await client.send("/admin_bot")
        await client.click(manager.last_message(), InlineButtonTextLocator(".* RUB"))
        await client.click(manager.last_message(), InlineButtonTextLocator(".* USDT"))
        await client.send("2")
        await client.send("1000")
        sizes.append(storage.size)
    await rates.close()
    assert 1 <= max(sizes[5:]) == min(sizes[5:]) <= 4, sizes
