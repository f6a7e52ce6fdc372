"""Drive the generated dialog with aiogram-dialog's test tools and the static provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiogram.types import User
from aiogram_dialog.test_tools import BotClient
from aiogram_dialog.test_tools.memory_storage import JsonMemoryStorage
from flow_helpers import Chat, RecordingMessageManager, SendingBot

from engine.app import create_dispatcher
from engine.definitions import Definitions, load_definitions
from engine.rates.offline import create_offline_rates
from engine.rates.service import RateService
from engine.testing.snapshots import FIXED_IDENTITY

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def definitions() -> Definitions:
    return load_definitions(ROOT / "config.yaml")


@pytest.fixture
async def make_chat(definitions: Definitions) -> AsyncIterator[Callable[..., Chat]]:
    created: list[RateService] = []

    def factory(
        *,
        language: str | None = None,
        defs: Definitions | None = None,
        rates: RateService | None = None,
        user_id: int = 1,
    ) -> Chat:
        defs = defs or definitions
        service = rates or create_offline_rates(defs.config)
        created.append(service)
        manager = RecordingMessageManager()
        app = create_dispatcher(
            defs,
            rates=service,
            admins=[user_id],
            identity=FIXED_IDENTITY,
            storage=JsonMemoryStorage(),
            message_manager=manager,
        )
        client = BotClient(app.dispatcher, user_id=user_id, chat_id=user_id, bot=SendingBot())
        client.user = User(id=user_id, is_bot=False, first_name="Admin", language_code=language)
        return Chat(client, manager, app)

    yield factory
    for service in created:
        await service.close()
