"""In a group the bot posts no rates: an admin's command gets one line asking for a private
chat; with ``bot.allow_groups: true`` it works there as in a private chat."""

from __future__ import annotations

from aiogram.types import User
from aiogram_dialog.test_tools import BotClient, MockMessageManager
from aiogram_dialog.test_tools.memory_storage import JsonMemoryStorage
from bot_helpers import ADMIN, STRANGER, RecordingBot

from engine.app import create_dispatcher
from engine.definitions import Definitions
from engine.rates.offline import create_offline_rates

GROUP = -100123


def in_group(definitions: Definitions, user_id: int, *, allow: bool = False):
    config = definitions.config
    if allow:
        bot = config.bot.model_copy(update={"allow_groups": True})
        definitions = Definitions(
            config.model_copy(update={"bot": bot}), definitions.flows, definitions.renderer
        )
    manager = MockMessageManager()
    app = create_dispatcher(
        definitions,
        rates=create_offline_rates(definitions.config),
        admins=[ADMIN],
        storage=JsonMemoryStorage(),
        message_manager=manager,
    )
    bot = RecordingBot()
    client = BotClient(
        app.dispatcher, user_id=user_id, chat_id=GROUP, chat_type="supergroup", bot=bot
    )
    client.user = User(id=user_id, is_bot=False, first_name="U", language_code="en")
    return client, bot, manager


async def test_an_admins_command_in_a_group_gets_one_line_and_no_rates(definitions) -> None:
    client, bot, manager = in_group(definitions, ADMIN)
    await client.send("/rates")
    await client.send("/admin_bot")
    await client.send("1000")
    assert [m.text for m in bot.sent()] == [
        "Quotes are given in a private chat only: open the bot and send /admin_bot."
    ]
    assert manager.sent_messages == []  # no dialog window, no rates in the group


async def test_strangers_in_a_group_get_nothing(definitions) -> None:
    client, bot, manager = in_group(definitions, STRANGER)
    await client.send("/admin_bot")
    assert bot.sent() == [] and manager.sent_messages == []


async def test_allow_groups_turns_group_use_on(definitions) -> None:
    client, bot, manager = in_group(definitions, ADMIN, allow=True)
    await client.send("/admin_bot")
    assert manager.sent_messages  # the first window
    assert bot.sent() == []
