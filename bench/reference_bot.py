"""The reference for the burst: a minimal hand-written aiogram 3 FSM bot.

It does what Crypto Helper's first step does and nothing more — ``/admin_bot`` from an admin
sets an FSM state and answers with the source screen's text and two currency buttons, in
HTML parse mode — so the burst compares the engine (YAML flow, aiogram-dialog, Jinja,
middlewares) with the least aiogram itself needs for the same reply.

Environment: ``BOT_TOKEN``, ``TELEGRAM_API_URL`` (the fake), ``ADMIN_IDS`` (comma-separated).
Run: ``python bench/reference_bot.py``; stops on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

# templates/ru/source.j2 as rendered, and the first two currencies of config.yaml.
SOURCE_TEXT = "<b>Новый расчёт обмена</b>\n\nКакую валюту отдаёт клиент?"
CURRENCIES = (("🇷🇺", "RUB"), ("💵", "USDT"))


class Exchange(StatesGroup):
    source = State()


class Give(CallbackData, prefix="give"):
    code: str


def create_dispatcher(admins: frozenset[int]) -> Dispatcher:
    """The whole reference: memory storage, one router, one handler."""
    dispatcher = Dispatcher(storage=MemoryStorage())
    router = dispatcher.include_router(Router(name="reference"))
    buttons = [
        InlineKeyboardButton(text=f"{emoji} {code}", callback_data=Give(code=code).pack())
        for emoji, code in CURRENCIES
    ]
    keyboard = InlineKeyboardMarkup(inline_keyboard=[buttons])

    @router.message(Command("admin_bot"), F.from_user.id.in_(admins))
    async def admin_bot(message: Message, state: FSMContext) -> None:
        await state.set_state(Exchange.source)
        await state.set_data({})
        await message.answer(SOURCE_TEXT, reply_markup=keyboard)

    return dispatcher


async def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    admins = frozenset(int(a) for a in os.environ.get("ADMIN_IDS", "").split(",") if a.strip())
    api = os.environ.get("TELEGRAM_API_URL")
    session = AiohttpSession(api=TelegramAPIServer.from_base(api)) if api else AiohttpSession()
    default = DefaultBotProperties(parse_mode=ParseMode.HTML)
    bot = Bot(os.environ["BOT_TOKEN"], session=session, default=default)
    # start_polling handles SIGTERM/SIGINT and closes the session.
    await create_dispatcher(admins).start_polling(bot)


if __name__ == "__main__":
    asyncio.run(main())
