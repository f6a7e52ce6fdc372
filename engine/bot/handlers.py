"""Commands that open flows."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from aiogram_dialog import DialogManager

from engine.flow.builder import FlowDialog

START_COMMANDS = ("admin_bot",)


def create_router(main_flow: FlowDialog) -> Router:
    """``/start`` and ``/admin_bot`` open ``main_flow`` from its first step."""
    router = Router(name="commands")

    @router.message(CommandStart())
    @router.message(Command(*START_COMMANDS))
    async def start_flow(message: Message, dialog_manager: DialogManager) -> None:
        await main_flow.start(dialog_manager)

    return router
