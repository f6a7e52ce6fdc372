"""A dispatcher with access control, driven by aiogram-dialog's BotClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiogram_dialog.test_tools import MockMessageManager
from aiogram_dialog.test_tools.memory_storage import JsonMemoryStorage
from bot_helpers import ADMIN, RecordingBot, Session

from engine.app import create_dispatcher
from engine.definitions import Definitions, load_definitions
from engine.rates.offline import create_offline_rates
from engine.testing.snapshots import FIXED_IDENTITY

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def definitions() -> Definitions:
    return load_definitions(ROOT / "config.yaml")


@pytest.fixture
async def session(definitions: Definitions) -> AsyncIterator[Callable[..., Session]]:
    services = []

    def factory(
        user_id: int = ADMIN, language: str | None = None, admins: tuple[int, ...] = (ADMIN,)
    ) -> Session:
        rates = create_offline_rates(definitions.config)
        services.append(rates)
        manager = MockMessageManager()
        app = create_dispatcher(
            definitions,
            rates=rates,
            admins=admins,
            identity=FIXED_IDENTITY,
            storage=JsonMemoryStorage(),
            message_manager=manager,
        )
        return Session(app, RecordingBot(), manager, user_id, language)

    yield factory
    for rates in services:
        await rates.close()
